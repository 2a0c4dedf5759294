#![no_main]

use stripwatch::fuzz_harness as harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::run("dialog_nntp", data));

//! The fuzz harnesses: one function per fuzz target, shared by the
//! cargo-fuzz targets (`fuzz/fuzz_targets/*.rs`) and the regression test
//! (`tests/integration/fuzz_regressions.rs`) that replays every committed crash input
//! through exactly the same code.
//!
//! Only crates the main package already depends on are used here (no
//! `arbitrary`): inputs are decoded with the small [`input::Input`] reader.
//! Every harness panics when an invariant breaks; libFuzzer reports the
//! panic as a crash.

// A harness panics when an invariant breaks: that is how libFuzzer sees it.
#![allow(
    dead_code,
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used
)]

pub(crate) mod capture;
pub(crate) mod dialog;
pub(crate) mod flows;
pub(crate) mod input;
pub(crate) mod output;
pub(crate) mod reassembly;
pub(crate) mod sasl;
pub(crate) mod tls;

/// A fuzz harness: panics when an invariant breaks.
pub type Harness = fn(&[u8]);

/// Every fuzz target by name, with its harness.
pub const TARGETS: &[(&str, Harness)] = &[
    ("capture", capture::capture),
    ("decode", capture::decode),
    ("pipeline", capture::pipeline),
    ("flows", flows::flows),
    ("reassembly", reassembly::reassembly),
    ("dialog", dialog::dialog),
    ("dialog_smtp", dialog::dialog_smtp),
    ("dialog_imap", dialog::dialog_imap),
    ("dialog_pop3", dialog::dialog_pop3),
    ("dialog_ftp", dialog::dialog_ftp),
    ("dialog_postgres", dialog::dialog_postgres),
    ("dialog_mysql", dialog::dialog_mysql),
    ("dialog_xmpp", dialog::dialog_xmpp),
    ("dialog_ldap", dialog::dialog_ldap),
    ("dialog_managesieve", dialog::dialog_managesieve),
    ("dialog_nntp", dialog::dialog_nntp),
    ("sasl", sasl::sasl),
    ("tls", tls::tls),
];

/// Harnesses of known bugs, reported and not fixed yet: the inputs under
/// `tests/fuzz_regressions/known-bugs/<name>/` fail them until the fix.
/// (None open: the pcapng block length and the FIN placement bugs the
/// fuzzers found are fixed, their inputs kept under the targets' folders.)
pub const KNOWN_BUGS: &[(&str, Harness)] = &[];

/// Runs the harness of fuzz target `name` on `data` (what each cargo-fuzz
/// target does). An unknown name is a bug of the fuzz crate: it panics.
pub fn run(name: &str, data: &[u8]) {
    match TARGETS.iter().find(|(n, _)| *n == name) {
        Some((_, harness)) => harness(data),
        None => panic!("no fuzz harness named {name}"),
    }
}

#![forbid(unsafe_code)]

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    stripwatch::cli::run(stripwatch::cli::Cli::parse())
}

//! The `stripwatch` command: clap, the exit status and colour, over the
//! library (see `src/cli/`).

#![forbid(unsafe_code)]

mod cli;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    cli::run(cli::Cli::parse())
}

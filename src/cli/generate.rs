//! `stripwatch completions SHELL` and `stripwatch man DIR`: the shell
//! completions and the manual pages, generated from the command line's own
//! definition (clap_complete, clap_mangen) so they never disagree with it.

use crate::cli::{Cli, EXIT_INPUT_ERROR};
use clap::{Args, CommandFactory};
use clap_complete::Shell;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use stripwatch::output_file::{IfExists, OutputDir};

/// The mode of a manual page: it holds no secret, and every user reads it.
const MAN_PAGE_MODE: u32 = 0o644;

#[derive(Args, Debug)]
pub(crate) struct CompletionsArgs {
    /// The shell to complete in. Bash: save the script as
    /// /usr/share/bash-completion/completions/stripwatch (or source it);
    /// zsh: as _stripwatch in a directory of $fpath; fish: as
    /// ~/.config/fish/completions/stripwatch.fish.
    #[arg(value_enum)]
    pub shell: CompletionShell,
}

/// The shells `completions` writes for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum CompletionShell {
    Bash,
    Zsh,
    Fish,
    Powershell,
}

impl From<CompletionShell> for Shell {
    fn from(shell: CompletionShell) -> Shell {
        match shell {
            CompletionShell::Bash => Shell::Bash,
            CompletionShell::Zsh => Shell::Zsh,
            CompletionShell::Fish => Shell::Fish,
            CompletionShell::Powershell => Shell::PowerShell,
        }
    }
}

#[derive(Args, Debug)]
pub(crate) struct ManArgs {
    /// The directory to write the pages in (created 0700 when missing):
    /// stripwatch.1 and one page per command, stripwatch-analyze.1, ...
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,

    /// Replace pages that already exist (by default an existing file is an
    /// error).
    #[arg(long)]
    pub force: bool,
}

/// Writes the completion script for `args.shell` to standard output.
pub(crate) fn completions(args: &CompletionsArgs) -> ExitCode {
    let mut script = Vec::new();
    clap_complete::generate(
        Shell::from(args.shell),
        &mut Cli::command(),
        "stripwatch",
        &mut script,
    );
    let mut out = std::io::stdout().lock();
    match out.write_all(&script).and_then(|()| out.flush()) {
        Err(e) if crate::cli::report_write_failed(&e) => {
            crate::cli::error(&format!("writing the completion script: {e}"));
            ExitCode::from(EXIT_INPUT_ERROR)
        }
        _ => ExitCode::SUCCESS,
    }
}

/// Writes the manual pages to `args.dir`, naming each file written.
pub(crate) fn man(args: &ManArgs) -> ExitCode {
    let pages = match man_pages() {
        Ok(pages) => pages,
        Err(e) => {
            crate::cli::error(&format!("rendering the manual pages: {e}"));
            return ExitCode::from(EXIT_INPUT_ERROR);
        }
    };
    match write_pages(&args.dir, &pages, IfExists::from_force(args.force)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            crate::cli::error(&e.to_string());
            ExitCode::from(EXIT_INPUT_ERROR)
        }
    }
}

/// Every manual page as (file name, roff): the command's, then one per
/// visible subcommand (`stripwatch-analyze.1`, ...), `help` aside.
pub(crate) fn man_pages() -> std::io::Result<Vec<(String, Vec<u8>)>> {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    let mut commands = vec![cmd.clone()];
    commands.extend(cmd.get_subcommands().filter(|s| !s.is_hide_set()).cloned());
    commands
        .into_iter()
        .map(|command| {
            let page = clap_mangen::Man::new(command);
            let mut roff = Vec::new();
            page.render(&mut roff)?;
            Ok((page.get_filename(), roff))
        })
        .collect()
}

/// Creates each page in `dir` as every output file is created (never
/// through a planted link), then makes it readable by all.
fn write_pages(
    dir: &Path,
    pages: &[(String, Vec<u8>)],
    if_exists: IfExists,
) -> std::io::Result<()> {
    let base = dir;
    let dir = OutputDir::open(base)?;
    for (name, roff) in pages {
        let path = base.join(name);
        let shown = stripwatch::text::escape(path.as_os_str().as_encoded_bytes());
        let mut file = dir.create(name, if_exists)?;
        file.write_all(roff)
            .and_then(|()| file.set_permissions(std::fs::Permissions::from_mode(MAN_PAGE_MODE)))
            .and_then(|()| file.sync_all())
            .map_err(|e| std::io::Error::new(e.kind(), format!("{shown}: {e}")))?;
        println!("{shown}");
    }
    Ok(())
}

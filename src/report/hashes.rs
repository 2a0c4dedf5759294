//! `--hashes FILE`: challenge-response material for password audits.
//!
//! FILE gets every line; `FILE.hashcat-<mode>` and `FILE.john-<format>`
//! get one format each, ready for `hashcat -m <mode>` or
//! `john --format=<format>`.

use crate::analysis::hashes::HashLine;
use crate::analysis::{LateFinding, Reporter, RunEnd, SessionRecord};
use crate::output_file::{self, IfExists};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// Collects hash lines during the run and writes the files at its end.
pub struct HashExport {
    path: PathBuf,
    /// FILE, created before the run (a name already taken fails early).
    all: Option<File>,
    if_exists: IfExists,
    lines: Vec<HashLine>,
    /// Files written, with their line counts (for the user).
    pub written: Vec<(PathBuf, usize)>,
}

impl HashExport {
    /// Creates FILE (see [`crate::output_file`]); the per-format files
    /// are created at the end, when their formats are known.
    pub fn create(path: &Path, if_exists: IfExists) -> io::Result<Self> {
        Ok(HashExport {
            path: path.to_path_buf(),
            all: Some(output_file::create(path, if_exists)?),
            if_exists,
            lines: Vec::new(),
            written: Vec::new(),
        })
    }
}

impl Reporter for HashExport {
    fn session(&mut self, record: &SessionRecord) -> io::Result<()> {
        self.lines.extend(record.hashes.iter().cloned());
        Ok(())
    }

    fn late_finding(&mut self, _late: &LateFinding) -> io::Result<()> {
        Ok(())
    }

    fn finish(&mut self, _end: &RunEnd<'_>) -> io::Result<()> {
        let mut by_format: BTreeMap<(&str, &str), Vec<&str>> = BTreeMap::new();
        let file = self
            .all
            .take()
            .ok_or_else(|| io::Error::other("hash file written twice"))?;
        let mut all = BufWriter::new(file);
        for h in &self.lines {
            writeln!(all, "{}", h.line).map_err(|e| named(&self.path, e))?;
            by_format
                .entry((h.tool, h.format))
                .or_default()
                .push(&h.line);
        }
        all.flush().map_err(|e| named(&self.path, e))?;
        self.written.push((self.path.clone(), self.lines.len()));
        for ((tool, format), lines) in by_format {
            let mut name = self.path.clone().into_os_string();
            name.push(format!(".{tool}-{format}"));
            let path = PathBuf::from(name);
            let mut f = BufWriter::new(output_file::create(&path, self.if_exists)?);
            for l in &lines {
                writeln!(f, "{l}").map_err(|e| named(&path, e))?;
            }
            f.flush().map_err(|e| named(&path, e))?;
            self.written.push((path, lines.len()));
        }
        Ok(())
    }
}

/// A write error with the file it concerns.
fn named(path: &Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

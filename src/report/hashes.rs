//! `--hashes FILE`: challenge-response material for password audits.
//!
//! FILE gets every line; `FILE.hashcat-<mode>` and `FILE.john-<format>`
//! get one format each, ready for `hashcat -m <mode>` or
//! `john --format=<format>`.

use crate::analysis::hashes::HashLine;
use crate::analysis::{LateFinding, Reporter, RunEnd, SessionRecord};
use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Collects hash lines during the run and writes the files at its end.
pub struct HashExport {
    path: PathBuf,
    lines: Vec<HashLine>,
    /// Files written, with their line counts (for the user).
    pub written: Vec<(PathBuf, usize)>,
}

impl HashExport {
    pub fn new(path: &Path) -> Self {
        HashExport {
            path: path.to_path_buf(),
            lines: Vec::new(),
            written: Vec::new(),
        }
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
        let mut all = std::fs::File::create(&self.path)?;
        for h in &self.lines {
            writeln!(all, "{}", h.line)?;
            by_format
                .entry((h.tool, h.format))
                .or_default()
                .push(&h.line);
        }
        self.written.push((self.path.clone(), self.lines.len()));
        for ((tool, format), lines) in by_format {
            let mut name = self.path.clone().into_os_string();
            name.push(format!(".{tool}-{format}"));
            let path = PathBuf::from(name);
            let mut f = std::fs::File::create(&path)?;
            for l in &lines {
                writeln!(f, "{l}")?;
            }
            self.written.push((path, lines.len()));
        }
        Ok(())
    }
}

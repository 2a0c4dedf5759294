//! Turning the command line's paths into an ordered list of capture files.
//!
//! A directory stands for the capture files in it (a rotated capture). All
//! files are read one after the other in the order of their first packet's
//! timestamp, so flows continue from one file into the next.

use super::CaptureFile;
use crate::time::Timestamp;
use std::io::Read;
use std::path::{Path, PathBuf};

/// One input, in processing order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputSpec {
    pub path: PathBuf,
    /// The name used in reports and evidence.
    pub name: String,
}

/// Expands directories (recursively) and orders the inputs by their first timestamp.
/// Standard input (`-`) cannot be peeked without consuming it, so it is read
/// first. Files in a directory that are not captures are skipped (their
/// names are returned in the second list); explicitly named files are
/// always kept so that their errors reach the user.
pub fn resolve_inputs(paths: &[PathBuf]) -> std::io::Result<(Vec<InputSpec>, Vec<PathBuf>)> {
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    let mut stdin = false;
    for path in paths {
        if path == Path::new("-") {
            stdin = true;
        } else if path.is_dir() {
            collect_dir(path, 0, &mut files, &mut skipped)?;
        } else {
            files.push(path.clone());
        }
    }
    let mut keyed: Vec<(Option<Timestamp>, usize, PathBuf)> = files
        .into_iter()
        .enumerate()
        .map(|(i, p)| (CaptureFile::peek_first_timestamp(&p), i, p))
        .collect();
    // Files without a readable first packet keep their place at the end, in
    // command-line order; their errors are reported when they are read.
    keyed.sort_by_key(|(ts, i, _)| (ts.is_none(), *ts, *i));
    let mut out = Vec::new();
    if stdin {
        out.push(InputSpec {
            path: PathBuf::from("-"),
            name: "<stdin>".to_string(),
        });
    }
    out.extend(keyed.into_iter().map(|(_, _, path)| InputSpec {
        name: path.display().to_string(),
        path,
    }));
    Ok((out, skipped))
}

/// Deepest directory level searched for captures.
const MAX_DEPTH: usize = 16;

/// The capture files under `dir`, in name order, subdirectories included
/// (symbolic links to directories are not followed).
fn collect_dir(
    dir: &Path,
    depth: usize,
    files: &mut Vec<PathBuf>,
    skipped: &mut Vec<PathBuf>,
) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for entry in entries {
        let is_link = entry
            .symlink_metadata()
            .is_ok_and(|m| m.file_type().is_symlink());
        if entry.is_dir() {
            if !is_link && depth < MAX_DEPTH {
                collect_dir(&entry, depth + 1, files, skipped)?;
            }
        } else if looks_like_capture(&entry) {
            files.push(entry);
        } else {
            skipped.push(entry);
        }
    }
    Ok(())
}

/// pcap (both byte orders, µs and ns), pcapng, or gzip magic.
fn looks_like_capture(path: &Path) -> bool {
    let mut magic = [0u8; 4];
    let Ok(mut f) = std::fs::File::open(path) else {
        return false;
    };
    if f.read_exact(&mut magic).is_err() {
        return false;
    }
    matches!(
        magic,
        [0xd4, 0xc3, 0xb2, 0xa1]
            | [0xa1, 0xb2, 0xc3, 0xd4]
            | [0x4d, 0x3c, 0xb2, 0xa1]
            | [0xa1, 0xb2, 0x3c, 0x4d]
            | [0x0a, 0x0d, 0x0d, 0x0a]
            | [0x1f, 0x8b, _, _]
    )
}

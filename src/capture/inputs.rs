//! Turning the command line's paths into an ordered list of capture files.
//!
//! A directory stands for the capture files in it (a rotated capture). All
//! files are read one after the other in the order of their first packet's
//! timestamp, so flows continue from one file into the next.

use super::CaptureFile;
use crate::time::Timestamp;
use std::fs::{File, FileType};
use std::io::{self, Read};
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

/// One input, in processing order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputSpec {
    /// The path as given or found under a directory; `-` for standard input.
    pub path: PathBuf,
    /// The name used in reports and evidence.
    pub name: String,
    /// Standard input, a pipe or a device: read once, as it comes (never
    /// peeked, never read twice for evidence).
    pub stream: bool,
}

/// What the command line's paths came to.
#[derive(Debug, Default)]
pub struct ResolvedInputs {
    /// What to read, in order.
    pub inputs: Vec<InputSpec>,
    /// Directory entries not read, and why (a note for the user).
    pub skipped: Vec<(PathBuf, &'static str)>,
    /// Entries that could not be examined (the exit status is then 2).
    pub failed: Vec<io::Error>,
}

/// Expands directories (recursively) and orders the inputs by their first
/// timestamp. Standard input (`-`) and paths that are pipes or devices
/// (`<(zcat x.pcap.gz)`) cannot be peeked without consuming them: they are
/// read first, in command-line order. In a directory only regular files
/// (or links to them) that start like a capture are read: FIFOs, sockets,
/// devices, links to directories and other files are skipped with a
/// reason; an entry that cannot be read is a failure that does not stop
/// the others. Explicitly named files are always kept so that their errors
/// reach the user.
pub fn resolve_inputs(paths: &[PathBuf]) -> ResolvedInputs {
    let mut resolved = ResolvedInputs::default();
    let mut files = Vec::new();
    for path in paths {
        if path == Path::new("-") {
            resolved.inputs.push(InputSpec {
                path: path.clone(),
                name: "<stdin>".to_string(),
                stream: true,
            });
            continue;
        }
        match std::fs::metadata(path).map(|m| m.file_type()) {
            Ok(t) if t.is_dir() => collect_dir(path, 0, &mut files, &mut resolved),
            Ok(t) if is_stream(t) => resolved.inputs.push(InputSpec {
                path: path.clone(),
                name: path.display().to_string(),
                stream: true,
            }),
            _ => files.push(path.clone()),
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
    resolved
        .inputs
        .extend(keyed.into_iter().map(|(_, _, path)| InputSpec {
            name: path.display().to_string(),
            path,
            stream: false,
        }));
    resolved
}

/// A pipe, FIFO, socket or device: read as a stream, like standard input.
fn is_stream(t: FileType) -> bool {
    t.is_fifo() || t.is_char_device() || t.is_block_device() || t.is_socket()
}

/// Opens `path` for reading only if it is a regular file: the open never
/// waits (`O_NONBLOCK`, which regular files ignore), and the check is made
/// on what was opened, so a FIFO put in a file's place is refused, not
/// waited on.
pub(crate) fn open_regular(path: &Path) -> io::Result<File> {
    use rustix::fs::{Mode, OFlags};
    let fd = rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let file = File::from(fd);
    if !file.metadata()?.is_file() {
        return Err(io::Error::other(
            "not a regular file (a pipe or device is read as a stream only when named on the command line)",
        ));
    }
    Ok(file)
}

/// Deepest directory level searched for captures.
const MAX_DEPTH: usize = 16;

/// The capture files under `dir`, in name order, subdirectories included
/// (symbolic links to directories are not followed; links to regular
/// files are).
fn collect_dir(dir: &Path, depth: usize, files: &mut Vec<PathBuf>, resolved: &mut ResolvedInputs) {
    let listing = match std::fs::read_dir(dir) {
        Ok(l) => l,
        Err(e) => return resolved.failed.push(named(dir, "cannot be listed", e)),
    };
    let mut entries = Vec::new();
    for entry in listing {
        match entry {
            Ok(e) => entries.push(e.path()),
            Err(e) => return resolved.failed.push(named(dir, "cannot be listed", e)),
        }
    }
    entries.sort();
    for entry in entries {
        let is_link = entry
            .symlink_metadata()
            .is_ok_and(|m| m.file_type().is_symlink());
        let kind = match std::fs::metadata(&entry) {
            Ok(m) => m.file_type(),
            Err(e) => {
                resolved.failed.push(named(&entry, "cannot be examined", e));
                continue;
            }
        };
        if kind.is_dir() && is_link {
            resolved.skipped.push((entry, "a link to a directory"));
        } else if kind.is_dir() {
            if depth < MAX_DEPTH {
                collect_dir(&entry, depth + 1, files, resolved);
            } else {
                resolved.skipped.push((entry, "too deep"));
            }
        } else if !kind.is_file() {
            resolved
                .skipped
                .push((entry, "not a regular file (a pipe, socket or device)"));
        } else {
            match looks_like_capture(&entry) {
                Ok(true) => files.push(entry),
                Ok(false) => resolved.skipped.push((entry, "not a capture file")),
                Err(e) => resolved.failed.push(named(&entry, "cannot be read", e)),
            }
        }
    }
}

/// `path: what: e`.
fn named(path: &Path, what: &str, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {what}: {e}", path.display()))
}

/// pcap (both byte orders, µs and ns), pcapng, or gzip magic.
fn looks_like_capture(path: &Path) -> io::Result<bool> {
    let mut magic = [0u8; 4];
    let mut f = open_regular(path)?;
    match f.read_exact(&mut magic) {
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(false),
        Err(e) => return Err(e),
        Ok(()) => {}
    }
    Ok(matches!(
        magic,
        [0xd4, 0xc3, 0xb2, 0xa1]
            | [0xa1, 0xb2, 0xc3, 0xd4]
            | [0x4d, 0x3c, 0xb2, 0xa1]
            | [0xa1, 0xb2, 0x3c, 0x4d]
            | [0x0a, 0x0d, 0x0d, 0x0a]
            | [0x1f, 0x8b, _, _]
    ))
}

//! `--write-evidence PATH`: the packets of every flagged session, written
//! to pcap so the analyst opens exactly the proof in Wireshark.
//!
//! The run keeps only where each flagged session is (four-tuple, first and
//! last packet, sequence numbers, secret byte ranges); a second pass over
//! the inputs copies those frames out. Unless secrets are revealed, secret
//! bytes (passwords, tokens, challenge responses) are overwritten with `*`
//! of the same length and the TCP checksum is fixed, so the file still
//! decodes cleanly.

use crate::analysis::session::CaptureRef;
use crate::analysis::{FindingKind, LateFinding, Reporter, RunEnd, SessionRecord};
use crate::capture::writer::PcapWriter;
use crate::capture::{CaptureFile, Frame, InputSpec, LinkType};
use crate::decode;
use crate::flow::{Endpoint, FlowKey, Side};
use crate::output_file::{self, IfExists, OutputDir};
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};

struct Flagged {
    id: u64,
    capture: CaptureRef,
    kinds: Vec<FindingKind>,
}

/// Collects the flagged sessions during the run.
#[derive(Default)]
pub struct EvidencePlan {
    sessions: Vec<Flagged>,
    /// Sessions without a reported finding that a later session may still
    /// prove stripped.
    candidates: HashMap<u64, CaptureRef>,
}

/// Most candidates kept for late findings.
const MAX_CANDIDATES: usize = 100_000;

impl Reporter for EvidencePlan {
    fn session(&mut self, record: &SessionRecord) -> io::Result<()> {
        if record.findings.is_empty() && record.stripping.unproven_absence.is_some() {
            if self.candidates.len() < MAX_CANDIDATES {
                self.candidates.insert(record.id, record.capture.clone());
            }
        } else if !record.findings.is_empty() {
            let mut kinds: Vec<FindingKind> = record.findings.iter().map(|f| f.kind).collect();
            kinds.dedup();
            self.sessions.push(Flagged {
                id: record.id,
                capture: record.capture.clone(),
                kinds,
            });
        }
        Ok(())
    }

    fn late_finding(&mut self, late: &LateFinding) -> io::Result<()> {
        if let Some(capture) = self.candidates.remove(&late.finding.session) {
            self.sessions.push(Flagged {
                id: late.finding.session,
                capture,
                kinds: Vec::new(),
            });
        }
        if let Some(s) = self
            .sessions
            .iter_mut()
            .find(|s| s.id == late.finding.session)
        {
            if let Some(replaced) = late.replaces {
                s.kinds.retain(|k| *k != replaced);
            }
            if !s.kinds.contains(&late.finding.kind) {
                s.kinds.push(late.finding.kind);
            }
        }
        Ok(())
    }

    fn finish(&mut self, _end: &RunEnd<'_>) -> io::Result<()> {
        Ok(())
    }
}

/// What the export wrote.
#[derive(Debug, Default)]
pub struct EvidenceSummary {
    /// The pcap files written, sorted by path.
    pub files: Vec<PathBuf>,
    /// Frames written, once per file they went to (in a directory a session's frames go to
    /// each of its finding kinds' files).
    pub packets: u64,
    /// Packets whose secret bytes were masked.
    pub masked_packets: u64,
    /// Frames of another link type than the file's (pcap has one).
    pub skipped_link_type: u64,
    /// `live`: flagged sessions some of whose packets were no longer held
    /// (the bounds of [`LiveEvidence`]); their files have the rest.
    pub partial_sessions: u64,
    /// `live`: files that could not be written (the capture goes on), and
    /// the first error.
    pub failed_files: u64,
    /// The first of those errors.
    pub first_failure: Option<String>,
    /// `live`: flagged sessions and late findings whose files were not
    /// written: the writer thread's queue was full when they were reported
    /// (the capture never waits for the disk).
    pub not_written: u64,
}

#[cfg(feature = "live")]
mod live;

/// `live --write-evidence DIR`: the recent packets of every flow, kept in
/// bounded rings, and the flagged sessions' files written from them as
/// each session is reported (see the `live` module for the bounds). A
/// reporter by shared reference: the feeding thread keeps packets while
/// the reporting thread hands each session's packets to a writer thread of
/// its own, behind a bounded queue, so neither waits on the file system.
#[cfg(feature = "live")]
pub struct LiveEvidence {
    held: std::sync::Mutex<live::Held>,
    sessions: std::sync::Mutex<live::Sessions>,
}

/// Where evidence goes, made ready before the run: a name already taken
/// or a directory others can write to fails before the analysis, and the
/// files are created as [`crate::output_file`] says.
#[derive(Debug)]
pub enum EvidenceTarget {
    /// One pcap, created already.
    File {
        /// The path as given.
        path: PathBuf,
        /// The file [`Self::prepare`] created; taken (`None`) when the first frame is written.
        file: Option<File>,
    },
    /// One pcap per session and finding kind, in this directory.
    Dir {
        /// The directory, opened (created 0700 when missing).
        dir: OutputDir,
        /// What to do when a session's file name is taken in it.
        if_exists: IfExists,
    },
}

impl EvidenceTarget {
    /// A directory when `path` is one or ends with `/` (created 0700 when
    /// missing), otherwise one file.
    pub fn prepare(path: &Path, if_exists: IfExists) -> io::Result<Self> {
        if path.is_dir() || path.to_string_lossy().ends_with('/') {
            Ok(EvidenceTarget::Dir {
                dir: OutputDir::open(path)?,
                if_exists,
            })
        } else {
            Ok(EvidenceTarget::File {
                path: path.to_path_buf(),
                file: Some(output_file::create(path, if_exists)?),
            })
        }
    }

    /// The file or directory given.
    pub fn path(&self) -> &Path {
        match self {
            EvidenceTarget::File { path, .. } => path,
            EvidenceTarget::Dir { dir, .. } => dir.path(),
        }
    }

    /// The files the frames of session `s` go to.
    fn paths(&self, s: &Flagged) -> Vec<PathBuf> {
        match self {
            EvidenceTarget::File { path, .. } => vec![path.clone()],
            EvidenceTarget::Dir { dir, .. } => s
                .kinds
                .iter()
                .map(|k| dir.path().join(evidence_name(s.id, *k)))
                .collect(),
        }
    }

    /// The file `path` (one of [`Self::paths`]), created the first time.
    fn open(&mut self, path: &Path) -> io::Result<File> {
        match self {
            EvidenceTarget::File { file, .. } => file
                .take()
                .ok_or_else(|| io::Error::other("evidence file opened twice")),
            EvidenceTarget::Dir { dir, if_exists } => {
                let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
                dir.create(name, *if_exists)
            }
        }
    }
}

/// `session-000042-starttls-stripped.pcap`.
fn evidence_name(id: u64, kind: FindingKind) -> String {
    format!("session-{id:06}-{}.pcap", kind.name())
}

/// One output file and the link type it was opened with.
struct Output {
    writer: PcapWriter<BufWriter<File>>,
    link: LinkType,
}

impl EvidencePlan {
    /// Second pass: copies the flagged sessions' frames from `inputs` to
    /// `target` (one pcap, or one per finding in a directory).
    pub fn write(
        &self,
        target: EvidenceTarget,
        inputs: &[InputSpec],
        show_secrets: bool,
    ) -> io::Result<EvidenceSummary> {
        if inputs.iter().any(|i| i.stream) {
            return Err(io::Error::other(
                "evidence cannot be written from standard input or a pipe: it cannot be read twice",
            ));
        }
        let mut export = Export {
            sessions: &self.sessions,
            by_key: self.by_key(),
            show_secrets,
            files: EvidenceFiles {
                target,
                outputs: HashMap::new(),
                summary: EvidenceSummary::default(),
            },
        };
        for (index, spec) in inputs.iter().enumerate() {
            let index = u16::try_from(index).unwrap_or(u16::MAX);
            let wanted = self
                .sessions
                .iter()
                .any(|s| s.capture.first.input <= index && index <= s.capture.last.input);
            if wanted {
                export.copy_input(index, spec)?;
            }
        }
        export.files.close()
    }

    /// Which sessions a four-tuple can belong to.
    fn by_key(&self) -> HashMap<FlowKey, Vec<usize>> {
        let mut by_key: HashMap<FlowKey, Vec<usize>> = HashMap::new();
        for (i, s) in self.sessions.iter().enumerate() {
            by_key
                .entry(FlowKey::new(s.capture.client, s.capture.server))
                .or_default()
                .push(i);
        }
        by_key
    }
}

/// The second pass under way.
struct Export<'p> {
    sessions: &'p [Flagged],
    by_key: HashMap<FlowKey, Vec<usize>>,
    show_secrets: bool,
    files: EvidenceFiles,
}

/// The output files and what went into them.
struct EvidenceFiles {
    target: EvidenceTarget,
    outputs: HashMap<PathBuf, Output>,
    summary: EvidenceSummary,
}

impl Export<'_> {
    /// Copies the frames of input `index` that belong to flagged sessions.
    fn copy_input(&mut self, index: u16, spec: &InputSpec) -> io::Result<()> {
        let mut file =
            CaptureFile::open(&spec.path).map_err(|e| io::Error::other(e.to_string()))?;
        let mut failure = None;
        // A damaged file was reported by the run; its good part is used.
        let _ = file.for_each_frame(|frame| match self.copy_frame(index, &frame) {
            Ok(()) => true,
            Err(e) => {
                failure = Some(e);
                false
            }
        });
        failure.map_or(Ok(()), Err)
    }

    /// Writes `frame` (secrets masked unless revealed) to the files of every
    /// flagged session it belongs to.
    fn copy_frame(&mut self, index: u16, frame: &Frame<'_>) -> io::Result<()> {
        let Ok(seg) = decode::decode(frame.link, frame.data) else {
            return Ok(());
        };
        let (src, dst) = Endpoint::of(&seg);
        let Some(candidates) = self.by_key.get(&FlowKey::new(src, dst)) else {
            return Ok(());
        };
        let at = (index, frame.number);
        for s in candidates.iter().filter_map(|&i| self.sessions.get(i)) {
            let c = &s.capture;
            if at < (c.first.input, c.first.frame) || at > (c.last.input, c.last.frame) {
                continue;
            }
            let mut bytes = frame.data.to_vec();
            if !self.show_secrets && mask_secrets(c, &seg, frame.data, &mut bytes) {
                decode::fix_tcp_checksum(frame.link, &mut bytes);
                self.files.summary.masked_packets += 1;
            }
            self.files.write(s, frame, &bytes)?;
        }
        Ok(())
    }
}

impl EvidenceFiles {
    /// Writes `bytes` (of `frame`) to every file of session `s`.
    fn write(&mut self, s: &Flagged, frame: &Frame<'_>, bytes: &[u8]) -> io::Result<()> {
        for path in self.target.paths(s) {
            let written = write_frame(
                &mut self.outputs,
                &mut self.target,
                &path,
                frame.link,
                frame.ts,
                bytes,
                frame.orig_len,
            )?;
            if written {
                self.summary.packets += 1;
            } else {
                self.summary.skipped_link_type += 1;
            }
        }
        Ok(())
    }

    /// Flushes every file; the single file is written even when nothing was
    /// flagged.
    fn close(mut self) -> io::Result<EvidenceSummary> {
        if let EvidenceTarget::File {
            path,
            file: Some(file),
        } = self.target
        {
            // Nothing flagged: an empty capture says so in Wireshark too.
            let writer = PcapWriter::new(BufWriter::new(file), 1)?;
            self.outputs.insert(path, Output { writer, link: 1 });
        }
        for (written, mut out) in self.outputs {
            out.writer
                .flush()
                .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", written.display())))?;
            self.summary.files.push(written);
        }
        self.summary.files.sort();
        Ok(self.summary)
    }
}

fn write_frame(
    outputs: &mut HashMap<PathBuf, Output>,
    files: &mut EvidenceTarget,
    target: &Path,
    link: LinkType,
    ts: crate::time::Timestamp,
    bytes: &[u8],
    orig_len: u32,
) -> io::Result<bool> {
    if !outputs.contains_key(target) {
        let writer = PcapWriter::new(BufWriter::new(files.open(target)?), link)?;
        outputs.insert(target.to_path_buf(), Output { writer, link });
    }
    match outputs.get_mut(target) {
        Some(out) if out.link == link => {
            out.writer.write_frame(ts, bytes, orig_len)?;
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// Overwrites the bytes of `copy` (a copy of `frame`) that carry secret
/// stream ranges of the session; true when any byte changed.
fn mask_secrets(
    c: &CaptureRef,
    seg: &decode::TcpSegment<'_>,
    frame: &[u8],
    copy: &mut [u8],
) -> bool {
    if c.secret_spans.is_empty() || seg.payload.is_empty() {
        return false;
    }
    let side = if seg.src == c.client.ip && seg.src_port == c.client.port {
        Side::Client
    } else {
        Side::Server
    };
    let Some(start) = c.stream_start[side] else {
        // A client stream the dialog never read: all of it is unread.
        let payload = seg.layout(frame).payload;
        let unread = copy.get_mut(payload).filter(|_| side == Side::Client);
        return unread.map(|bytes| bytes.fill(b'*')).is_some();
    };
    let seq = if seg.flags.syn() {
        seg.seq.wrapping_add(1)
    } else {
        seg.seq
    };
    // Offsets within 2 GiB of the stream's start; a segment that starts
    // before it (crafted, or a stray retransmission) carries bytes the
    // stream never read: those are masked whole.
    let relative = i64::from(seq.wrapping_sub(start) as i32);
    let before = usize::try_from(-relative).unwrap_or(0);
    let offset = u64::try_from(relative).unwrap_or(0);
    let payload = seg.layout(frame).payload;
    let Some(bytes) = copy.get_mut(payload) else {
        return false;
    };
    let (unread, read) = bytes.split_at_mut(before.min(bytes.len()));
    if side == Side::Client {
        unread.fill(b'*');
    }
    let masked = c.secret_spans.mask(side, offset, read);
    masked || (side == Side::Client && !unread.is_empty())
}

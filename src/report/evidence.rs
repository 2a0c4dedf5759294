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
use crate::capture::{CaptureFile, InputSpec, LinkType};
use crate::decode;
use crate::flow::{Endpoint, FlowKey, PacketRef, Side};
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
    pub files: Vec<PathBuf>,
    pub packets: u64,
    /// Packets whose secret bytes were masked.
    pub masked_packets: u64,
    /// Frames of another link type than the file's (pcap has one).
    pub skipped_link_type: u64,
}

/// One output file and the link type it was opened with.
struct Output {
    writer: PcapWriter<BufWriter<File>>,
    link: LinkType,
}

impl EvidencePlan {
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// Second pass: copies the flagged sessions' frames from `inputs` to
    /// `path` (one pcap), or to one pcap per finding when `path` is a
    /// directory (or ends with `/`).
    pub fn write(
        &self,
        path: &Path,
        inputs: &[InputSpec],
        show_secrets: bool,
    ) -> io::Result<EvidenceSummary> {
        let per_finding = path.is_dir() || path.to_string_lossy().ends_with('/');
        if per_finding {
            std::fs::create_dir_all(path)?;
        }
        if inputs.iter().any(|i| i.path == Path::new("-")) {
            return Err(io::Error::other(
                "evidence cannot be written from standard input: it cannot be read twice",
            ));
        }
        // Which sessions a four-tuple can belong to.
        let mut by_key: HashMap<FlowKey, Vec<usize>> = HashMap::new();
        for (i, s) in self.sessions.iter().enumerate() {
            by_key
                .entry(FlowKey::new(s.capture.client, s.capture.server))
                .or_default()
                .push(i);
        }
        let mut outputs: HashMap<PathBuf, Output> = HashMap::new();
        let mut summary = EvidenceSummary::default();
        for (index, spec) in inputs.iter().enumerate() {
            let index = u16::try_from(index).unwrap_or(u16::MAX);
            let wanted = self
                .sessions
                .iter()
                .any(|s| s.capture.first.input <= index && index <= s.capture.last.input);
            if !wanted {
                continue;
            }
            let mut file =
                CaptureFile::open(&spec.path).map_err(|e| io::Error::other(e.to_string()))?;
            let mut failure = None;
            // A damaged file was reported by the run; its good part is used.
            let _ = file.for_each_frame(|frame| {
                let Ok(seg) = decode::decode(frame.link, frame.data) else {
                    return true;
                };
                let key = {
                    let (src, dst) = Endpoint::of(&seg);
                    FlowKey::new(src, dst)
                };
                let Some(candidates) = by_key.get(&key) else {
                    return true;
                };
                let at = PacketRef {
                    input: index,
                    frame: frame.number,
                    ts: frame.ts,
                };
                for &i in candidates {
                    let Some(s) = self.sessions.get(i) else {
                        continue;
                    };
                    let c = &s.capture;
                    if (at.input, at.frame) < (c.first.input, c.first.frame)
                        || (at.input, at.frame) > (c.last.input, c.last.frame)
                    {
                        continue;
                    }
                    let mut bytes = frame.data.to_vec();
                    if !show_secrets && mask_secrets(c, &seg, frame.data, &mut bytes) {
                        decode::fix_tcp_checksum(frame.link, &mut bytes);
                        summary.masked_packets += 1;
                    }
                    let targets: Vec<PathBuf> = if per_finding {
                        s.kinds
                            .iter()
                            .map(|k| path.join(format!("session-{:06}-{}.pcap", s.id, k.name())))
                            .collect()
                    } else {
                        vec![path.to_path_buf()]
                    };
                    for target in targets {
                        let result = write_frame(
                            &mut outputs,
                            &target,
                            frame.link,
                            frame.ts,
                            &bytes,
                            frame.orig_len,
                        );
                        match result {
                            Ok(true) => summary.packets += 1,
                            Ok(false) => summary.skipped_link_type += 1,
                            Err(e) => {
                                failure = Some(e);
                                return false;
                            }
                        }
                    }
                }
                true
            });
            if let Some(e) = failure {
                return Err(e);
            }
        }
        if !per_finding && outputs.is_empty() {
            // Nothing flagged: an empty capture says so in Wireshark too.
            let writer = PcapWriter::new(BufWriter::new(File::create(path)?), 1)?;
            outputs.insert(path.to_path_buf(), Output { writer, link: 1 });
        }
        for (target, mut out) in outputs {
            out.writer.flush()?;
            summary.files.push(target);
        }
        summary.files.sort();
        Ok(summary)
    }
}

fn write_frame(
    outputs: &mut HashMap<PathBuf, Output>,
    target: &Path,
    link: LinkType,
    ts: crate::time::Timestamp,
    bytes: &[u8],
    orig_len: u32,
) -> io::Result<bool> {
    if !outputs.contains_key(target) {
        let writer = PcapWriter::new(BufWriter::new(File::create(target)?), link)?;
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
    let start = match side {
        Side::Client => c.stream_start[0],
        Side::Server => c.stream_start[1],
    };
    let Some(start) = start else { return false };
    let seq = if seg.flags.syn() {
        seg.seq.wrapping_add(1)
    } else {
        seg.seq
    };
    // Offsets within the first 4 GiB of a stream (mail sessions never reach it).
    let offset = u64::from(seq.wrapping_sub(start));
    let payload = seg.layout(frame).payload;
    copy.get_mut(payload)
        .is_some_and(|bytes| c.secret_spans.mask(side, offset, bytes))
}

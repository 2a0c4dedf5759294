//! The one-way pipeline: capture files → frames → decoded TCP segments →
//! flow table (sessions, reassembly) → session handler.
//!
//! Memory depends on the number of concurrent flows, never on the input
//! size: frames are borrowed from the reader's bounded buffer, non-mail
//! segments are dropped after the port check, and sessions leave the flow
//! table when they end.

use crate::capture::{CaptureError, CaptureFile, CaptureFormat, Frame, InputSpec, LinkType};
use crate::decode::{self, Skip};
use crate::flow::{FlowConfig, FlowTable, PacketRef, SessionHandler};
use serde::Serialize;
use std::collections::BTreeMap;

/// What happened to the frames of one input.
#[derive(Clone, Debug, Default, Serialize)]
pub struct InputSummary {
    pub file: String,
    pub format: &'static str,
    pub gzip: bool,
    pub packets: u64,
    /// Frame bytes on the wire.
    pub bytes: u64,
    /// Frame bytes the capture kept.
    pub captured_bytes: u64,
    /// Link types by name, with their frame counts.
    pub link_types: BTreeMap<String, u64>,
    #[serde(skip)]
    link_counts: Vec<(LinkType, u64)>,
    /// TCP segments to or from a followed port.
    pub mail_segments: u64,
    pub not_mail_segments: u64,
    pub not_tcp: u64,
    pub not_ip: u64,
    /// IP fragments (not reassembled).
    pub fragments: u64,
    /// Frames whose headers cannot be decoded.
    pub undecodable: u64,
    pub unknown_link_type: u64,
    /// Frames whose capture length is below their wire length.
    pub snaplen_truncated: u64,
    /// Set when the file could not be read to its end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The frame number at which reading stopped, with `error`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_packet: Option<u64>,
}

impl InputSummary {
    /// True when the file was read to its end.
    pub fn complete(&self) -> bool {
        self.error.is_none()
    }
}

/// Frames in, sessions out, for any session handler.
pub struct Pipeline<H: SessionHandler> {
    table: FlowTable<H>,
    inputs: Vec<InputSummary>,
}

impl<H: SessionHandler> Pipeline<H> {
    pub fn new(config: FlowConfig, handler: H) -> Self {
        Pipeline {
            table: FlowTable::new(config, handler),
            inputs: Vec::new(),
        }
    }

    pub fn table(&self) -> &FlowTable<H> {
        &self.table
    }

    pub fn inputs(&self) -> &[InputSummary] {
        &self.inputs
    }

    /// Reads one input to its end (or to the first damage), feeding every
    /// frame through the pipeline. Errors are recorded in the input's
    /// summary; the frames before them have been analyzed.
    pub fn read_input(&mut self, spec: &InputSpec) {
        self.read_input_with(spec, &mut |_, _| {});
    }

    /// Like [`Self::read_input`], calling `after_frame` after every frame
    /// with the handler (to take ended sessions) and the bytes of this
    /// input read so far.
    pub fn read_input_with(&mut self, spec: &InputSpec, after_frame: &mut dyn FnMut(&mut H, u64)) {
        let index = self.begin_input(&spec.name);
        match CaptureFile::open(&spec.path) {
            Ok(mut file) => {
                let mut bytes = 0u64;
                let result = file.for_each_frame(|frame| {
                    self.process_frame(index, &frame);
                    // Record header and frame: close to the file's bytes.
                    bytes += 16 + frame.data.len() as u64;
                    after_frame(self.table.handler_mut(), bytes);
                    true
                });
                self.end_input(index, &file, result.err());
            }
            Err(e) => self.fail_input(index, e),
        }
    }

    /// Starts a new input; its frames must then carry the returned index.
    pub fn begin_input(&mut self, name: &str) -> u16 {
        self.inputs.push(InputSummary {
            file: name.to_string(),
            format: "pcap",
            ..InputSummary::default()
        });
        u16::try_from(self.inputs.len() - 1).unwrap_or(u16::MAX)
    }

    /// Records how an input ended.
    pub fn end_input(&mut self, index: u16, file: &CaptureFile, error: Option<CaptureError>) {
        if let Some(summary) = self.inputs.get_mut(usize::from(index)) {
            summary.gzip = file.is_gzip();
            summary.format = match file.format() {
                CaptureFormat::Pcap => "pcap",
                CaptureFormat::PcapNg => "pcapng",
            };
            if let Some(e) = error {
                summary.error_packet = e.packet;
                summary.error = Some(e.to_string());
            }
        }
    }

    /// Records an input that could not be opened at all.
    pub fn fail_input(&mut self, index: u16, error: CaptureError) {
        if let Some(summary) = self.inputs.get_mut(usize::from(index)) {
            summary.error_packet = error.packet;
            summary.error = Some(error.to_string());
        }
    }

    /// One frame of input `index`.
    pub fn process_frame(&mut self, index: u16, frame: &Frame<'_>) {
        let Some(summary) = self.inputs.get_mut(usize::from(index)) else {
            return;
        };
        summary.packets += 1;
        summary.bytes += u64::from(frame.orig_len);
        summary.captured_bytes += frame.data.len() as u64;
        if (frame.data.len() as u64) < u64::from(frame.orig_len) {
            summary.snaplen_truncated += 1;
        }
        match summary
            .link_counts
            .iter_mut()
            .find(|(l, _)| *l == frame.link)
        {
            Some((_, count)) => *count += 1,
            None => summary.link_counts.push((frame.link, 1)),
        }
        let segment = match decode::decode(frame.link, frame.data) {
            Ok(segment) => segment,
            Err(skip) => {
                match skip {
                    Skip::UnknownLinkType => summary.unknown_link_type += 1,
                    Skip::NotTcp => summary.not_tcp += 1,
                    Skip::NotIp => summary.not_ip += 1,
                    Skip::Fragment => summary.fragments += 1,
                    Skip::Undecodable => summary.undecodable += 1,
                }
                return;
            }
        };
        if !self.table.wants(segment.src_port, segment.dst_port) {
            summary.not_mail_segments += 1;
            return;
        }
        summary.mail_segments += 1;
        let packet = PacketRef {
            input: index,
            frame: frame.number,
            ts: frame.ts,
        };
        self.table.process(&segment, packet, frame.orig_len);
    }

    /// Ends every open session and returns the handler with the inputs'
    /// summaries.
    pub fn finish(mut self) -> (H, Vec<InputSummary>, crate::flow::TableStats) {
        self.table.finish();
        for summary in &mut self.inputs {
            for (link, count) in summary.link_counts.drain(..) {
                *summary
                    .link_types
                    .entry(decode::linktype::name(link))
                    .or_default() += count;
            }
        }
        let stats = self.table.stats;
        (self.table.into_handler(), self.inputs, stats)
    }
}

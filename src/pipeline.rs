//! The one-way pipeline: capture files → frames → decoded TCP segments →
//! flow table (sessions, reassembly) → session handler.
//!
//! Memory depends on the number of concurrent flows, never on the input
//! size: frames are borrowed from the reader's bounded buffer, non-mail
//! segments are dropped after the port check, and sessions leave the flow
//! table when they end.

use crate::capture::{
    CaptureError, CaptureFile, CaptureFormat, Frame, InputSpec, LinkType, LiveCounters, linktype,
};
use crate::decode::{self, Skip};
use crate::flow::{
    CaptureClock, Endpoint, FlowConfig, FlowKey, FlowTable, PacketRef, PortSet, SessionHandler,
};
use crate::time::Timestamp;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// Sessions ended at a time at the end of the input.
pub(crate) const FINISH_CHUNK: usize = 1024;

/// What happened to the frames of one input.
#[derive(Clone, Debug, Default, Serialize)]
pub struct InputSummary {
    /// The input's name as given, escaped (`<stdin>` for `-`; the binary names a live capture
    /// `live:IFACE`).
    pub file: String,
    /// `pcap` or `pcapng` (`pcap` when the file could not be opened), or `live`.
    pub format: &'static str,
    /// The file was gzip-compressed.
    pub gzip: bool,
    /// Frames read, whatever they held.
    pub packets: u64,
    /// Frame bytes on the wire.
    pub bytes: u64,
    /// Frame bytes the capture kept.
    pub captured_bytes: u64,
    /// Link types by name, with their frame counts.
    pub link_types: BTreeMap<String, u64>,
    /// Frames of the current run of one link type (flushed into
    /// `link_counts` when it changes: one compare per frame, however many
    /// link types a hostile pcapng declares).
    #[serde(skip)]
    link_run: (LinkType, u64),
    #[serde(skip)]
    link_counts: HashMap<LinkType, u64>,
    /// TCP segments to or from a followed port.
    pub mail_segments: u64,
    /// TCP segments with neither port followed.
    pub not_mail_segments: u64,
    /// IP frames that are not TCP (UDP, ICMP, ...).
    pub not_tcp: u64,
    /// Frames of a known link type that are not IP (ARP, LLDP, ...).
    pub not_ip: u64,
    /// IP fragments (not reassembled).
    pub fragments: u64,
    /// Frames whose headers cannot be decoded.
    pub undecodable: u64,
    /// Frames of a link type the decoder does not know (or of a pcapng interface past the
    /// description limit, `MAX_INTERFACES`).
    pub unknown_link_type: u64,
    /// Frames whose capture length is below their wire length.
    pub snaplen_truncated: u64,
    /// Set when the file could not be read to its end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The frame number at which reading stopped, with `error`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_packet: Option<u64>,
    /// A live capture's libpcap counters at its end (absent for files).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live: Option<LiveCounters>,
}

/// Whether a frame is a segment of a followed port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Classified {
    /// A TCP segment of a followed port, in this flow.
    Mail(FlowKey),
    /// Anything else (counted in the summary).
    Other,
}

impl InputSummary {
    pub(crate) fn new(name: &str) -> Self {
        InputSummary {
            // A file name is not packet data, but it may come from anyone.
            file: crate::text::escape(name.as_bytes()),
            format: "pcap",
            ..InputSummary::default()
        }
    }

    /// True when the file was read to its end.
    pub fn complete(&self) -> bool {
        self.error.is_none()
    }

    /// Counts one frame and tells whether it is a segment of a followed
    /// port. Most packets of a tap are not mail: they are dropped on a
    /// glance at their headers, and only doubtful ones fully decoded.
    pub(crate) fn classify(&mut self, frame: &Frame<'_>, ports: &PortSet) -> Classified {
        self.packets += 1;
        self.bytes += u64::from(frame.orig_len);
        self.captured_bytes += frame.data.len() as u64;
        if (frame.data.len() as u64) < u64::from(frame.orig_len) {
            self.snaplen_truncated += 1;
        }
        if self.link_run.0 == frame.link {
            self.link_run.1 += 1;
        } else {
            self.flush_link_run();
            self.link_run = (frame.link, 1);
        }
        let (src, dst) = match decode::peek(frame.link, frame.data) {
            decode::Peek::Tcp {
                src,
                dst,
                src_port,
                dst_port,
            } => (
                Endpoint {
                    ip: src,
                    port: src_port,
                },
                Endpoint {
                    ip: dst,
                    port: dst_port,
                },
            ),
            decode::Peek::Unsure => match decode::decode(frame.link, frame.data) {
                Ok(seg) => Endpoint::of(&seg),
                Err(skip) => {
                    match skip {
                        Skip::UnknownLinkType => self.unknown_link_type += 1,
                        Skip::NotTcp => self.not_tcp += 1,
                        Skip::NotIp => self.not_ip += 1,
                        Skip::Fragment => self.fragments += 1,
                        Skip::Undecodable => self.undecodable += 1,
                    }
                    return Classified::Other;
                }
            },
        };
        if ports.contains(src.port) || ports.contains(dst.port) {
            self.mail_segments += 1;
            Classified::Mail(FlowKey::new(src, dst))
        } else {
            self.not_mail_segments += 1;
            Classified::Other
        }
    }

    /// Records how the file ended.
    pub(crate) fn record_end(&mut self, file: &CaptureFile, error: Option<CaptureError>) {
        self.gzip = file.is_gzip();
        self.format = match file.format() {
            CaptureFormat::Pcap => "pcap",
            CaptureFormat::PcapNg => "pcapng",
        };
        if let Some(e) = error {
            self.record_failure(e);
        }
    }

    /// Records the error that stopped reading the file.
    pub fn record_failure(&mut self, error: CaptureError) {
        self.error_packet = error.packet;
        self.error = Some(crate::text::escape(error.to_string().as_bytes()));
    }

    /// Adds the frames another summary counted (a stretch of the same
    /// input read apart) to this one's.
    pub(crate) fn absorb(&mut self, mut other: InputSummary) {
        self.packets += other.packets;
        self.bytes += other.bytes;
        self.captured_bytes += other.captured_bytes;
        self.mail_segments += other.mail_segments;
        self.not_mail_segments += other.not_mail_segments;
        self.not_tcp += other.not_tcp;
        self.not_ip += other.not_ip;
        self.fragments += other.fragments;
        self.undecodable += other.undecodable;
        self.unknown_link_type += other.unknown_link_type;
        self.snaplen_truncated += other.snaplen_truncated;
        other.flush_link_run();
        for (link, count) in other.link_counts.drain() {
            *self.link_counts.entry(link).or_default() += count;
        }
    }

    /// Names the link types counted.
    fn flush_link_run(&mut self) {
        let (link, count) = std::mem::take(&mut self.link_run);
        if count > 0 {
            *self.link_counts.entry(link).or_default() += count;
        }
    }

    pub(crate) fn name_link_types(&mut self) {
        self.flush_link_run();
        for (link, count) in self.link_counts.drain() {
            *self.link_types.entry(linktype::name(link)).or_default() += count;
        }
    }
}

/// Frames in, sessions out, for any session handler.
pub struct Pipeline<H: SessionHandler> {
    table: FlowTable<H>,
    inputs: Vec<InputSummary>,
    /// The capture's clock, over every frame.
    clock: CaptureClock,
}

impl<H: SessionHandler> Pipeline<H> {
    /// A pipeline feeding a new flow table set by `config`, its sessions going to `handler`; the
    /// capture clock takes `config`'s idle timeout as the largest jump it makes unconfirmed.
    pub fn new(config: FlowConfig, handler: H) -> Self {
        Pipeline {
            clock: CaptureClock::new(config.idle_timeout_secs),
            table: FlowTable::new(config, handler),
            inputs: Vec::new(),
        }
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
    pub(crate) fn read_input_with(
        &mut self,
        spec: &InputSpec,
        after_frame: &mut dyn FnMut(&mut H, u64),
    ) {
        let index = self.begin_input(&spec.name);
        match CaptureFile::open_input(spec) {
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
    pub(crate) fn begin_input(&mut self, name: &str) -> u16 {
        self.inputs.push(InputSummary::new(name));
        u16::try_from(self.inputs.len() - 1).unwrap_or(u16::MAX)
    }

    /// Records how an input ended.
    pub(crate) fn end_input(
        &mut self,
        index: u16,
        file: &CaptureFile,
        error: Option<CaptureError>,
    ) {
        if let Some(summary) = self.inputs.get_mut(usize::from(index)) {
            summary.record_end(file, error);
        }
    }

    /// Records an input that could not be opened at all.
    pub(crate) fn fail_input(&mut self, index: u16, error: CaptureError) {
        if let Some(summary) = self.inputs.get_mut(usize::from(index)) {
            summary.record_failure(error);
        }
    }

    /// Moves the capture's clock to `ts` without a packet: sessions idle
    /// past their timeout end now, exactly as at a packet of that time.
    /// A live capture calls this with the wall clock when no packet came
    /// for a while (capture time otherwise only advances with packets).
    /// `next_frame` is the number the next frame of input `index` will
    /// carry; a time within the latest second seen changes nothing, nor
    /// does a lone stamp far off (see [`CaptureClock`]).
    pub(crate) fn advance_clock(&mut self, index: u16, next_frame: u64, ts: Timestamp) {
        if let Some(ts) = self.clock.observe(ts) {
            let tick = PacketRef {
                input: index,
                frame: next_frame,
                ts,
            };
            self.table.tick(tick);
        }
    }

    /// One frame of input `index`.
    pub(crate) fn process_frame(&mut self, index: u16, frame: &Frame<'_>) {
        if usize::from(index) >= self.inputs.len() {
            return;
        }
        // Every packet moves the capture's clock (idle flows expire at the
        // first packet of a later second, mail or not).
        self.advance_clock(index, frame.number, frame.ts);
        let Some(summary) = self.inputs.get_mut(usize::from(index)) else {
            return;
        };
        if summary.classify(frame, &self.table.config().ports) == Classified::Other {
            return;
        }
        if let Ok(segment) = decode::decode(frame.link, frame.data) {
            let packet = PacketRef {
                input: index,
                frame: frame.number,
                ts: frame.ts,
            };
            self.table.process(&segment, packet, frame.orig_len);
        }
    }

    /// Ends every open session and returns the handler with the inputs'
    /// summaries.
    pub fn finish(self) -> (H, Vec<InputSummary>, crate::flow::TableStats) {
        self.finish_with(&mut |_| {})
    }

    /// Like [`Self::finish`], calling `after_some` with the handler after
    /// each few sessions ended (to take them as they come).
    pub(crate) fn finish_with(
        mut self,
        after_some: &mut dyn FnMut(&mut H),
    ) -> (H, Vec<InputSummary>, crate::flow::TableStats) {
        while !self.table.finish_step(FINISH_CHUNK) {
            after_some(self.table.handler_mut());
        }
        for summary in &mut self.inputs {
            summary.name_link_types();
        }
        let stats = self.table.stats;
        (self.table.into_handler(), self.inputs, stats)
    }
}

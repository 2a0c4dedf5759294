//! Live capture from a network interface through libpcap (cargo feature
//! `live`).
//!
//! A capture thread owns the libpcap handle: it takes packets out of the
//! kernel's ring buffer with `pcap_dispatch`, writes them to `--write-pcap`
//! when asked, and hands them to the analysis in batches over a bounded
//! channel (when the analysis falls behind, the channel fills, the thread
//! waits, the kernel ring fills and libpcap counts the drops: memory stays
//! bounded). Emptied batches come back to be reused.
//!
//! Stopping: [`Stopper::stop`] (called on SIGINT or SIGTERM) sets a flag and
//! breaks the blocked `pcap_dispatch` out of its wait. The thread then
//! switches the handle to non-blocking mode and reads what the kernel still
//! holds, for as long as a block of the ring can take to be handed over
//! (the read timeout), so every packet captured before the signal reaches
//! the analysis. It ends by closing the channel.

use super::LinkType;
use super::writer::{PcapOptions, RotatingPcapWriter};
use crate::capture::LiveCounters;
use crate::capture::linktype;
use crate::time::Timestamp;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long libpcap waits before handing over a partly filled block of
/// packets (the latency of a finding on a quiet link).
pub(crate) const READ_TIMEOUT_MS: i32 = 100;
/// After a stop, how long the thread keeps reading: a block still held by
/// the kernel is handed over within the read timeout.
const DRAIN_WINDOW: Duration = Duration::from_millis(3 * READ_TIMEOUT_MS as u64);
/// A batch is sent when it holds this many packets or bytes.
const BATCH_PACKETS: usize = 1024;
const BATCH_BYTES: usize = 1 << 20;
/// Most packets one `pcap_dispatch` call takes: under steady traffic the
/// call returns this often, to read libpcap's counters and flush the file.
const DISPATCH_PACKETS: usize = 8 * BATCH_PACKETS;
/// Batches in flight between the capture thread and the analysis.
pub(crate) const CHANNEL_BATCHES: usize = 32;
/// How often libpcap's counters are read.
const STATS_EVERY: Duration = Duration::from_millis(500);

/// What to capture and how.
#[derive(Clone, Debug)]
pub struct LiveOptions {
    /// The interface to open, as libpcap names it (`eth0`, `any`).
    pub interface: String,
    /// A BPF filter expression (pcap-filter(7) syntax).
    pub filter: String,
    /// Bytes kept of each frame (libpcap's snaplen); values above `i32::MAX` are taken as that.
    pub snaplen: u32,
    /// Put the interface in promiscuous mode.
    pub promisc: bool,
    /// Size of the kernel ring buffer.
    pub buffer_size: u32,
}

/// The BPF filter that keeps the TCP segments of `ports`, with and without
/// an 802.1Q tag: `tcp port 25 or ... or (vlan and (tcp port 25 or ...))`.
pub fn default_filter(ports: &[u16]) -> String {
    let mut seen = Vec::new();
    for p in ports {
        if !seen.contains(p) {
            seen.push(*p);
        }
    }
    let plain = seen
        .iter()
        .map(|p| format!("tcp port {p}"))
        .collect::<Vec<_>>()
        .join(" or ");
    format!("{plain} or (vlan and ({plain}))")
}

/// One interface as libpcap lists it.
#[derive(Clone, Debug)]
pub struct InterfaceInfo {
    /// The name libpcap opens it by.
    pub name: String,
    /// libpcap's description of it, when it has one.
    pub description: Option<String>,
    /// Its IP addresses (IPv4 and IPv6) as libpcap lists them.
    pub addresses: Vec<std::net::IpAddr>,
    /// libpcap's `PCAP_IF_UP`: the interface is up.
    pub up: bool,
    /// libpcap's `PCAP_IF_RUNNING`: the interface is operational.
    pub running: bool,
    /// libpcap's `PCAP_IF_LOOPBACK`.
    pub loopback: bool,
}

/// The interfaces libpcap can capture on.
pub fn list_interfaces() -> Result<Vec<InterfaceInfo>, String> {
    let devices = pcap::Device::list().map_err(|e| permission_hint(&e.to_string()))?;
    Ok(devices
        .into_iter()
        .map(|d| InterfaceInfo {
            up: d.flags.is_up(),
            running: d.flags.is_running(),
            loopback: d.flags.is_loopback(),
            addresses: d.addresses.iter().map(|a| a.addr).collect(),
            name: d.name,
            description: d.desc,
        })
        .collect())
}

/// The command that lets a user without root capture with this binary.
pub(crate) fn setcap_command() -> String {
    let exe = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "/path/to/stripwatch".to_string());
    format!("sudo setcap cap_net_raw,cap_net_admin=ep {exe}")
}

/// libpcap's error text, with what to do about a missing privilege.
fn permission_hint(text: &str) -> String {
    let lower = text.to_lowercase();
    if lower.contains("permission")
        || lower.contains("operation not permitted")
        || lower.contains("cap_net_raw")
    {
        format!(
            "{text}\ncapturing needs root, or the capabilities cap_net_raw and cap_net_admin \
             on the binary (give them to a copy only a trusted group may run: README, \
             Live capture):\n    {}",
            setcap_command()
        )
    } else {
        text.to_string()
    }
}

/// Why a capture could not start, in words for the user.
fn open_error(interface: &str, error: &pcap::Error) -> String {
    // libpcap's text names the interface as given.
    let text = crate::text::escape(error.to_string().as_bytes());
    let name = crate::text::escape(interface.as_bytes());
    if text.to_lowercase().contains("no such device") {
        format!(
            "cannot capture on {name}: no such interface ({text}); `stripwatch live --list` lists them"
        )
    } else {
        format!("cannot capture on {name}: {}", permission_hint(&text))
    }
}

/// Maps libpcap's DLT_ numbers to the LINKTYPE_ numbers of capture files
/// (they differ only for raw IP).
fn link_type(dlt: i32) -> LinkType {
    match dlt {
        linktype::RAW_BSD_12 | linktype::RAW_BSD_14 => linktype::RAW,
        other => other,
    }
}

/// An open capture, not yet running.
pub struct LiveCapture {
    capture: pcap::Capture<pcap::Active>,
    link: LinkType,
    options: LiveOptions,
}

/// Stops a running capture from any thread (a signal handler's thread).
#[derive(Clone)]
pub struct Stopper {
    flag: Arc<AtomicBool>,
    breaker: Arc<pcap::BreakLoop>,
}

impl Stopper {
    /// Asks the capture to stop: it reads what the kernel still holds and
    /// then closes its channel.
    pub fn stop(&self) {
        self.flag.store(true, Ordering::SeqCst);
        self.breaker.breakloop();
    }

    /// The flag set by [`Self::stop`] (for a signal handler that ends
    /// the process when a second signal comes).
    pub fn flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.flag)
    }

    /// Whether the stop was asked for (by [`Self::stop`] or through [`Self::flag`]).
    pub fn is_stopped(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }
}

/// The latest counters, shared with whoever prints them.
#[derive(Debug, Default)]
pub struct SharedStats {
    received: AtomicU64,
    dropped: AtomicU64,
    if_dropped: AtomicU64,
    known: AtomicBool,
}

impl SharedStats {
    fn store(&self, s: &pcap::Stat) {
        self.received
            .store(u64::from(s.received), Ordering::Relaxed);
        self.dropped.store(u64::from(s.dropped), Ordering::Relaxed);
        self.if_dropped
            .store(u64::from(s.if_dropped), Ordering::Relaxed);
        self.known.store(true, Ordering::Relaxed);
    }

    /// The latest counters, once libpcap gave any.
    pub fn get(&self) -> Option<LiveCounters> {
        self.known.load(Ordering::Relaxed).then(|| LiveCounters {
            received: self.received.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            if_dropped: self.if_dropped.load(Ordering::Relaxed),
        })
    }
}

/// Packets in capture order: their bytes back to back.
#[derive(Debug, Default)]
pub struct Batch {
    data: Vec<u8>,
    /// (timestamp, captured length, wire length)
    packets: Vec<(Timestamp, u32, u32)>,
}

impl Batch {
    fn with_capacity() -> Self {
        Batch {
            data: Vec::with_capacity(BATCH_BYTES + 64 * 1024),
            packets: Vec::with_capacity(BATCH_PACKETS),
        }
    }

    fn clear(&mut self) {
        self.data.clear();
        self.packets.clear();
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.packets.is_empty()
    }

    /// Each packet: (timestamp, captured bytes, wire length).
    pub fn packets(&self) -> impl Iterator<Item = (Timestamp, &[u8], u32)> + '_ {
        let mut at = 0usize;
        self.packets.iter().map(move |&(ts, caplen, orig_len)| {
            let end = at.saturating_add(caplen as usize);
            let data = self.data.get(at..end).unwrap_or_default();
            at = end;
            (ts, data, orig_len)
        })
    }
}

/// What the capture thread sends.
#[derive(Debug)]
pub enum Event {
    /// Captured packets in capture order; send the emptied batch back on [`Running::recycle`].
    Packets(Batch),
    /// Writing `--write-pcap` failed; the capture goes on without it.
    WriteFailed(String),
}

/// How the capture thread ended.
#[derive(Debug, Default)]
pub struct CaptureEnd {
    /// libpcap's final counters.
    pub stats: Option<LiveCounters>,
    /// The error that stopped the capture before it was asked to stop.
    pub error: Option<String>,
    /// Files written by `--write-pcap`, in order.
    pub files: Vec<PathBuf>,
    /// Frames written to them.
    pub frames_written: u64,
    /// Writing (or finally flushing) them failed.
    pub write_error: Option<String>,
}

/// The running capture thread.
pub struct Running {
    /// What the capture thread sends; the channel closes when the thread ends (stopped or failed),
    /// then [`Running::join`] tells how.
    pub events: Receiver<Event>,
    /// Send emptied batches back here to have them reused.
    pub recycle: SyncSender<Batch>,
    /// libpcap's latest counters, refreshed at most every 500 ms (`STATS_EVERY`) while capturing.
    pub stats: Arc<SharedStats>,
    /// Stops this capture; clone it for a signal handler.
    pub stopper: Stopper,
    thread: JoinHandle<CaptureEnd>,
}

impl Running {
    /// Waits for the thread (after its channel closed).
    pub fn join(self) -> CaptureEnd {
        self.thread.join().unwrap_or_else(|_| CaptureEnd {
            error: Some("the capture thread failed".to_string()),
            ..CaptureEnd::default()
        })
    }
}

impl LiveCapture {
    /// Opens the interface and installs the filter.
    pub fn open(options: LiveOptions) -> Result<Self, String> {
        let snaplen = i32::try_from(options.snaplen).unwrap_or(i32::MAX);
        let buffer = i32::try_from(options.buffer_size).unwrap_or(i32::MAX);
        let inactive = pcap::Capture::from_device(options.interface.as_str())
            .map_err(|e| open_error(&options.interface, &e))?;
        let mut capture = inactive
            .snaplen(snaplen)
            .promisc(options.promisc)
            .buffer_size(buffer)
            .timeout(READ_TIMEOUT_MS)
            .open()
            .map_err(|e| open_error(&options.interface, &e))?;
        capture.filter(&options.filter, true).map_err(|e| {
            format!(
                "invalid BPF filter `{}`: {}",
                crate::text::escape(options.filter.as_bytes()),
                crate::text::escape(e.to_string().as_bytes())
            )
        })?;
        let link = link_type(capture.get_datalink().0);
        Ok(LiveCapture {
            capture,
            link,
            options,
        })
    }

    /// The link type of the frames (a LINKTYPE_ number).
    pub fn link(&self) -> LinkType {
        self.link
    }

    /// The options the capture was opened with.
    pub fn options(&self) -> &LiveOptions {
        &self.options
    }

    /// The options of a pcap file that holds these frames whole.
    pub fn pcap_options(&self) -> PcapOptions {
        PcapOptions::new(self.link).snaplen(self.options.snaplen.max(1))
    }

    /// Starts the capture thread; `writer` gets every packet captured.
    pub fn start(mut self, writer: Option<RotatingPcapWriter>) -> std::io::Result<Running> {
        let (tx, events) = std::sync::mpsc::sync_channel(CHANNEL_BATCHES);
        let (recycle, returned) = std::sync::mpsc::sync_channel(CHANNEL_BATCHES);
        let stats = Arc::new(SharedStats::default());
        let stopper = Stopper {
            flag: Arc::new(AtomicBool::new(false)),
            breaker: Arc::new(self.capture.breakloop_handle()),
        };
        let shared = Arc::clone(&stats);
        let flag = Arc::clone(&stopper.flag);
        let thread = std::thread::Builder::new()
            .name("capture".into())
            .spawn(move || {
                let sink = Sink {
                    batch: Batch::with_capacity(),
                    tx,
                    returned,
                    writer,
                    write_error: None,
                    wrote: false,
                    disconnected: false,
                };
                capture_loop(self.capture, sink, &flag, &shared)
            })?;
        Ok(Running {
            events,
            recycle,
            stats,
            stopper,
            thread,
        })
    }
}

/// Where the capture thread puts packets.
struct Sink {
    batch: Batch,
    tx: SyncSender<Event>,
    returned: Receiver<Batch>,
    writer: Option<RotatingPcapWriter>,
    write_error: Option<String>,
    /// Something was written since the last flush.
    wrote: bool,
    /// The analysis is gone: nothing left to capture for.
    disconnected: bool,
}

impl Sink {
    fn push(&mut self, packet: &pcap::Packet<'_>) {
        let ts = timestamp(packet.header.ts.tv_sec, packet.header.ts.tv_usec);
        let data = packet.data;
        let orig_len = packet.header.len;
        if let Some(w) = self.writer.as_mut() {
            match w.write_frame(ts, data, orig_len) {
                Ok(()) => self.wrote = true,
                Err(e) => self.write_failed(e.to_string()),
            }
        }
        let caplen = u32::try_from(data.len()).unwrap_or(u32::MAX);
        self.batch.data.extend_from_slice(data);
        self.batch.packets.push((ts, caplen, orig_len));
        if self.batch.packets.len() >= BATCH_PACKETS || self.batch.data.len() >= BATCH_BYTES {
            self.send_batch();
        }
    }

    fn write_failed(&mut self, message: String) {
        let files = self
            .writer
            .take()
            .map(|w| w.files().to_vec())
            .unwrap_or_default();
        let name = files.last().map_or_else(String::new, |p| {
            format!(
                "{}: ",
                crate::text::escape(p.as_os_str().as_encoded_bytes())
            )
        });
        let message = format!("{name}{message}");
        self.write_error = Some(message.clone());
        if self.tx.send(Event::WriteFailed(message)).is_err() {
            self.disconnected = true;
        }
    }

    fn send_batch(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        let next = match self.returned.try_recv() {
            Ok(mut b) => {
                b.clear();
                b
            }
            Err(TryRecvError::Empty | TryRecvError::Disconnected) => Batch::with_capacity(),
        };
        let full = std::mem::replace(&mut self.batch, next);
        if self.tx.send(Event::Packets(full)).is_err() {
            self.disconnected = true;
        }
    }

    /// After each read: hand the batch on, push written frames to the file.
    fn after_read(&mut self) {
        self.send_batch();
        if self.wrote {
            self.wrote = false;
            if let Some(Err(e)) = self.writer.as_mut().map(RotatingPcapWriter::flush) {
                self.write_failed(e.to_string());
            }
        }
    }
}

/// A libpcap time (seconds and microseconds; their C types vary by
/// platform).
fn timestamp(secs: impl Into<i64>, micros: impl Into<i64>) -> Timestamp {
    let micros = micros.into().clamp(0, 999_999);
    Timestamp::new(secs.into(), u32::try_from(micros * 1000).unwrap_or(0))
}

fn capture_loop(
    mut capture: pcap::Capture<pcap::Active>,
    mut sink: Sink,
    stop: &AtomicBool,
    shared: &SharedStats,
) -> CaptureEnd {
    let mut end = CaptureEnd::default();
    let mut last_stats: Option<Instant> = None;
    let mut read_stats = |capture: &mut pcap::Capture<pcap::Active>, force: bool| {
        if force || last_stats.is_none_or(|t| t.elapsed() >= STATS_EVERY) {
            last_stats = Some(Instant::now());
            if let Ok(s) = capture.stats() {
                shared.store(&s);
            }
        }
    };
    read_stats(&mut capture, true);
    loop {
        if stop.load(Ordering::SeqCst) || sink.disconnected {
            break;
        }
        let result = capture.dispatch(Some(DISPATCH_PACKETS), |p| sink.push(&p));
        sink.after_read();
        read_stats(&mut capture, false);
        if let Err(e) = result {
            if !stop.load(Ordering::SeqCst) {
                end.error = Some(e.to_string());
            }
            break;
        }
    }
    read_stats(&mut capture, true);
    if end.error.is_none() && !sink.disconnected {
        // What the kernel still holds, without blocking.
        if let Ok(mut capture) = capture.setnonblock() {
            let since = Instant::now();
            loop {
                let n = capture
                    .dispatch(Some(DISPATCH_PACKETS), |p| sink.push(&p))
                    .unwrap_or(0);
                sink.after_read();
                if sink.disconnected {
                    break;
                }
                if n == 0 {
                    if since.elapsed() >= DRAIN_WINDOW {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
            read_stats(&mut capture, true);
        }
    }
    end.stats = shared.get();
    if let Some(mut w) = sink.writer.take() {
        if let Err(e) = w.flush() {
            sink.write_error.get_or_insert(e.to_string());
        }
        end.frames_written = w.frames();
        end.files = w.files().to_vec();
    }
    end.write_error = sink.write_error.take();
    end
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_filter_covers_vlan_and_extra_ports() {
        assert_eq!(
            default_filter(&[25, 143, 25, 2525]),
            "tcp port 25 or tcp port 143 or tcp port 2525 or (vlan and (tcp port 25 or tcp port 143 or tcp port 2525))"
        );
    }

    #[test]
    fn raw_ip_gets_its_file_number() {
        assert_eq!(link_type(12), linktype::RAW);
        assert_eq!(link_type(1), linktype::ETHERNET);
        assert_eq!(link_type(113), linktype::LINUX_SLL);
    }

    #[test]
    fn permission_errors_name_setcap() {
        let text = permission_hint(
            "libpcap error: socket: Operation not permitted (You don't have permission to capture on that device)",
        );
        assert!(
            text.contains("setcap cap_net_raw,cap_net_admin=ep"),
            "{text}"
        );
        assert_eq!(permission_hint("something else"), "something else");
    }

    #[test]
    fn batch_hands_back_its_packets() {
        let mut b = Batch::with_capacity();
        for (i, len) in [3usize, 0, 5].into_iter().enumerate() {
            b.data.extend(std::iter::repeat_n(i as u8, len));
            b.packets
                .push((Timestamp::new(i as i64, 0), len as u32, 60));
        }
        let got: Vec<(i64, Vec<u8>)> = b
            .packets()
            .map(|(ts, d, _)| (ts.secs, d.to_vec()))
            .collect();
        assert_eq!(got, [(0, vec![0; 3]), (1, vec![]), (2, vec![2; 5])]);
    }
}

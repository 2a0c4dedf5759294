//! Session records: what the report says about one session.

use crate::flow::{EndReason, PacketRef, RoleBasis, SessionInfo, Side, SideStats};
use crate::proto::Protocol;
use crate::proto::secrecy::{self, SecretSpans};
use crate::text;
use crate::time::Timestamp;
use serde::{Serialize, Serializer};
use std::sync::Arc;

/// Where a piece of evidence is: packet number (1-based within its file),
/// its time, and the file when the run has several inputs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PacketLocation {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<Arc<str>>,
    pub packet: u64,
    #[serde(serialize_with = "rfc3339")]
    pub timestamp: Timestamp,
}

pub(crate) fn rfc3339<S: Serializer>(ts: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(ts.rfc3339(&mut [0; 30]))
}

/// Turns packet references into locations (naming files only when the run
/// has more than one input).
#[derive(Clone, Debug, Default)]
pub(crate) struct Locator {
    files: Vec<Arc<str>>,
}

impl Locator {
    pub(crate) fn new(input_names: &[String]) -> Self {
        Locator {
            // A file name is not packet data, but it may come from anyone.
            files: input_names
                .iter()
                .map(|n| Arc::from(text::escape(n.as_bytes())))
                .collect(),
        }
    }

    pub(crate) fn locate(&self, packet: PacketRef) -> PacketLocation {
        let file = if self.files.len() > 1 {
            self.files.get(usize::from(packet.input)).cloned()
        } else {
            None
        };
        PacketLocation {
            file,
            packet: packet.frame,
            timestamp: packet.ts,
        }
    }
}

/// One side's traffic in the report.
#[derive(Clone, Debug, Serialize)]
pub struct DirectionRecord {
    pub packets: u64,
    pub wire_bytes: u64,
    pub payload_bytes: u64,
    /// Bytes delivered in order to the protocol parser.
    pub stream_bytes: u64,
    pub gaps: u64,
    pub gap_bytes: u64,
    pub retransmitted_bytes: u64,
    pub out_of_order_segments: u64,
    pub conflicts: u64,
    pub snaplen_truncated_bytes: u64,
}

impl From<&SideStats> for DirectionRecord {
    fn from(s: &SideStats) -> Self {
        DirectionRecord {
            packets: s.packets,
            wire_bytes: s.wire_bytes,
            payload_bytes: s.payload_bytes,
            stream_bytes: s.stream.delivered_bytes,
            gaps: s.stream.gaps,
            gap_bytes: s.stream.gap_bytes,
            retransmitted_bytes: s.stream.retransmitted_bytes,
            out_of_order_segments: s.stream.out_of_order_segments,
            conflicts: s.stream.conflicts,
            snaplen_truncated_bytes: s.truncated_bytes,
        }
    }
}

/// Something the capture could not show about a session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Observability {
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub side: Option<Side>,
    pub detail: String,
}

/// A transport-level anomaly: both versions of a byte range that two
/// packets disagreed about.
#[derive(Clone, Debug, Serialize)]
pub struct AnomalyRecord {
    pub kind: &'static str,
    pub direction: Side,
    pub stream_offset: u64,
    pub length: u64,
    /// The version the stream (and every verdict) used: the first seen.
    pub used: AnomalyVersion,
    pub ignored: AnomalyVersion,
}

#[derive(Clone, Debug, Serialize)]
pub struct AnomalyVersion {
    #[serde(flatten)]
    pub location: PacketLocation,
    pub excerpt: String,
}

/// The transport-level facts of a session.
#[derive(Clone, Debug, Serialize)]
pub struct TransportRecord {
    #[serde(serialize_with = "rfc3339")]
    pub first_seen: Timestamp,
    #[serde(serialize_with = "rfc3339")]
    pub last_seen: Timestamp,
    pub first_packet: PacketLocation,
    pub last_packet: PacketLocation,
    pub client_to_server: DirectionRecord,
    pub server_to_client: DirectionRecord,
    /// Gaps in both directions.
    pub gaps: u64,
    pub mid_stream: bool,
    pub handshake_seen: bool,
    pub roles_from: RoleBasis,
    pub end: EndReason,
    pub checksum_errors: u64,
    /// RSTs ignored as out of window (possible injection).
    pub ignored_rsts: u64,
}

impl TransportRecord {
    pub(crate) fn build(info: &SessionInfo, locator: &Locator) -> Self {
        let c = &info.sides[Side::Client];
        let s = &info.sides[Side::Server];
        TransportRecord {
            first_seen: info.first_packet.ts,
            last_seen: info.last_packet.ts,
            first_packet: locator.locate(info.first_packet),
            last_packet: locator.locate(info.last_packet),
            client_to_server: c.into(),
            server_to_client: s.into(),
            gaps: c.stream.gaps + s.stream.gaps,
            mid_stream: info.mid_stream,
            handshake_seen: info.syn_seen || info.syn_ack_seen,
            roles_from: info.roles_from,
            end: info.end,
            checksum_errors: info.checksum_errors,
            ignored_rsts: info.ignored_rsts,
        }
    }
}

/// Transport-level observability notes: what this capture cannot show.
pub(crate) fn transport_observability(info: &SessionInfo) -> Vec<Observability> {
    let mut out = Vec::new();
    if let Some(off) = &info.off_clock {
        let (secs, way) = if off.off_secs > 0 {
            (off.off_secs, "ahead of")
        } else {
            (off.off_secs.saturating_neg(), "behind")
        };
        out.push(Observability {
            kind: "timestamp-off-clock",
            side: None,
            detail: format!(
                "frame {} is stamped {secs} s {way} the capture's clock ({} packets of the session are far off); sequence numbers, not these times, placed them, and they neither ended nor split the session",
                off.packet.frame, off.packets
            ),
        });
    }
    if info.mid_stream {
        out.push(Observability {
            kind: "mid-stream",
            side: None,
            detail: "the capture begins after the TCP handshake; earlier bytes were not observed"
                .into(),
        });
    }
    for side in [Side::Client, Side::Server] {
        let st = &info.sides[side];
        if st.packets == 0 {
            out.push(Observability {
                kind: "one-sided",
                side: Some(side),
                detail: format!("no packet from the {} was captured", side.name()),
            });
        } else if st.stream.gap_bytes > 0 {
            // Bytes behind a hole given up may still have come later.
            let (missed, budget) = match st.stream.budget_gaps {
                0 => ("not captured", String::new()),
                n => (
                    "not captured or not waited for",
                    format!(", {n} of them given up to the memory budget of --max-buffered-mb"),
                ),
            };
            out.push(Observability {
                kind: "gap",
                side: Some(side),
                detail: format!(
                    "{} bytes of the {} stream were {missed} ({} gaps{budget})",
                    st.stream.gap_bytes,
                    side.name(),
                    st.stream.gaps
                ),
            });
        }
        if st.truncated_bytes > 0 {
            out.push(Observability {
                kind: "snaplen",
                side: Some(side),
                detail: format!(
                    "{} payload bytes from the {} were cut off by the capture's snaplen",
                    st.truncated_bytes,
                    side.name()
                ),
            });
        }
    }
    if info.out_of_range_timestamps > 0 {
        out.push(Observability {
            kind: "timestamp-out-of-range",
            side: None,
            detail: format!(
                "{} packets carry a time outside years 0000 to 9999, shown as the nearest end of that range",
                info.out_of_range_timestamps
            ),
        });
    }
    out
}

/// Conflicting retransmissions as anomalies with both versions, masked
/// unless `show_secrets`: where the session's secret ranges say, and a
/// client's ignored version (never read by the dialog) also line by line
/// as the secrecy guard judges it alone.
pub(crate) fn conflict_anomalies(
    info: &SessionInfo,
    locator: &Locator,
    secrets: &ConflictSecrets<'_>,
) -> Vec<AnomalyRecord> {
    info.conflicts
        .iter()
        .map(|(side, c)| {
            let excerpt = |bytes: &[u8], read: bool| {
                let shown = secrets.mask(*side, c.offset, bytes, read);
                text::escape_truncated(&shown, 128)
            };
            AnomalyRecord {
                kind: "conflicting-retransmission",
                direction: *side,
                stream_offset: c.offset,
                length: c.len,
                used: AnomalyVersion {
                    location: locator.locate(c.kept),
                    excerpt: excerpt(&c.kept_bytes, true),
                },
                ignored: AnomalyVersion {
                    location: locator.locate(c.ignored),
                    excerpt: excerpt(&c.ignored_bytes, false),
                },
            }
        })
        .collect()
}

/// What masking a conflict's excerpts needs.
pub(crate) struct ConflictSecrets<'a> {
    pub spans: &'a SecretSpans,
    pub protocol: Option<Protocol>,
    pub show_secrets: bool,
}

impl ConflictSecrets<'_> {
    /// `bytes` (at stream `offset` of `side`) as they may be shown; `read`
    /// when the dialog read them (the secret ranges then know them).
    fn mask(&self, side: Side, offset: u64, bytes: &[u8], read: bool) -> Vec<u8> {
        if self.show_secrets {
            return bytes.to_vec();
        }
        let mut shown = if read || side == Side::Server {
            bytes.to_vec()
        } else {
            secrecy::mask_client_text(self.protocol, bytes)
        };
        self.spans.mask(side, offset, &mut shown);
        shown
    }
}

/// The client ranges of conflicts whose ignored version may hold a secret
/// (the dialog never read it): added to `spans`, so evidence packets that
/// carry either version are masked there.
pub(crate) fn conflict_secret_spans(
    info: &SessionInfo,
    protocol: Option<Protocol>,
    spans: &mut SecretSpans,
) {
    for (side, c) in &info.conflicts {
        let excerpt_short = (c.ignored_bytes.len() as u64) < c.len;
        let secret = excerpt_short
            || secrecy::mask_client_text(protocol, &c.ignored_bytes) != c.ignored_bytes;
        if *side == Side::Client && secret {
            spans.add(*side, c.offset, c.offset + c.len);
        }
    }
}

//! An optional, bounded record of what a [`super::dialog::MailDialog`]
//! read: every line in the order the dialog took it, with the packet that
//! carried its first byte, plus markers where a literal was counted, TLS
//! began or bytes were lost. Bodies (SMTP DATA, POP3 multi-line responses)
//! leave no trace, literals only their length, TLS only where it starts.
//!
//! `stripwatch analyze` does not use it; `stripwatch diff` compares the
//! lines of one session as two taps saw them.

use super::lines::Line;
use crate::flow::{PacketRef, Side};

/// What a tapped item is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TapKind {
    /// A line the dialog read (command, reply, capability, greeting).
    Line,
    /// A server line where TLS was expected after the go-ahead (response
    /// injection): read, not handed to the protocol machine.
    AfterGoAhead,
    /// A literal or chunk counted by length; its bytes are not kept.
    Literal { total: u64 },
    /// The direction switched to TLS here.
    Tls,
    /// `len` bytes of the direction were never captured.
    Gap { len: u64 },
}

/// One tapped item.
#[derive(Clone, Debug)]
pub(crate) struct TapItem {
    pub side: Side,
    pub kind: TapKind,
    /// The packet that carried the first byte (none for a gap).
    pub packet: Option<PacketRef>,
    /// Stream offset of the first byte.
    pub offset: u64,
    /// The first bytes of the line (without its terminator), at most the
    /// tap's `keep`.
    pub bytes: Vec<u8>,
    /// The whole line's length.
    pub len: usize,
    /// FNV-1a of the whole line: lines are compared by it.
    pub hash: u64,
}

/// The record: items in the order the dialog read them.
#[derive(Clone, Debug)]
pub(crate) struct LineTap {
    items: Vec<TapItem>,
    max_items: usize,
    keep: usize,
    dropped: u64,
}

impl LineTap {
    /// Keeps at most `max_items` items of at most `keep` bytes each; the
    /// rest are counted.
    pub(crate) fn new(max_items: usize, keep: usize) -> Self {
        LineTap {
            items: Vec::new(),
            max_items,
            keep,
            dropped: 0,
        }
    }

    #[cfg(test)]
    pub(crate) fn items(&self) -> &[TapItem] {
        &self.items
    }

    pub(crate) fn into_items(self) -> Vec<TapItem> {
        self.items
    }

    /// Items not kept because the record was full.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped
    }

    fn push(&mut self, item: TapItem) {
        if self.items.len() < self.max_items {
            self.items.push(item);
        } else {
            self.dropped += 1;
        }
    }

    /// A line the dialog read.
    pub(crate) fn line(&mut self, side: Side, line: &Line<'_>, kind: TapKind) {
        if self.items.len() >= self.max_items {
            self.dropped += 1;
            return;
        }
        let kept = line.bytes.get(..self.keep).unwrap_or(line.bytes);
        self.push(TapItem {
            side,
            kind,
            packet: Some(line.packet),
            offset: line.offset,
            bytes: kept.to_vec(),
            len: line.bytes.len(),
            hash: fnv1a(line.bytes),
        });
    }

    /// A message of a binary or XML protocol: its first bytes (`kept`) and
    /// its length. Compared by the hash of what was kept and the length.
    pub(crate) fn message(
        &mut self,
        side: Side,
        kept: &[u8],
        len: usize,
        packet: PacketRef,
        offset: u64,
    ) {
        if self.items.len() >= self.max_items {
            self.dropped += 1;
            return;
        }
        let bytes = kept.get(..self.keep).unwrap_or(kept);
        self.push(TapItem {
            side,
            kind: TapKind::Line,
            packet: Some(packet),
            offset,
            bytes: bytes.to_vec(),
            len,
            hash: fnv1a(kept) ^ (len as u64).rotate_left(32),
        });
    }

    /// A marker without bytes (literal, TLS, gap).
    pub(crate) fn marker(
        &mut self,
        side: Side,
        kind: TapKind,
        packet: Option<PacketRef>,
        offset: u64,
    ) {
        let hash = match kind {
            TapKind::Literal { total } => fnv1a(&total.to_be_bytes()),
            _ => 0,
        };
        self.push(TapItem {
            side,
            kind,
            packet,
            offset,
            bytes: Vec::new(),
            len: 0,
            hash,
        });
    }
}

/// 64-bit FNV-1a.
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::flow::PerSide;
    use crate::proto::dialog::MailDialog;
    use crate::proto::test_support::packet as pkt;

    fn feed(dialog: &mut MailDialog, side: Side, bytes: &[u8], offset: u64, frame: u64) {
        dialog.on_event(
            side,
            &crate::flow::StreamEvent::Data {
                offset,
                bytes,
                packet: pkt(frame),
                ack: None,
            },
        );
    }

    #[test]
    fn records_lines_skips_bodies_and_marks_tls() {
        let mut d = MailDialog::new(None).with_tap(LineTap::new(100, 8));
        let mut at = PerSide::both(0u64);
        let script: &[(Side, &[u8])] = &[
            (Side::Server, b"220 mx ESMTP\r\n"),
            (Side::Client, b"EHLO a\r\n"),
            (Side::Server, b"250-mx\r\n250 STARTTLS\r\n"),
            (Side::Client, b"MAIL FROM:<a@b>\r\n"),
            (Side::Server, b"250 ok\r\n"),
            (Side::Client, b"DATA\r\n"),
            (Side::Server, b"354 go\r\n"),
            (Side::Client, b"Subject: x\r\n\r\nbody\r\n.\r\n"),
            (Side::Server, b"250 queued\r\n"),
            (Side::Client, b"STARTTLS\r\n"),
            (Side::Server, b"220 ready\r\n"),
            (Side::Client, b"\x16\x03\x01\x00\x05hello"),
        ];
        for (i, (side, bytes)) in script.iter().enumerate() {
            feed(&mut d, *side, bytes, at[*side], i as u64 + 1);
            at[*side] += bytes.len() as u64;
        }
        let tap = d.tap().unwrap();
        let lines: Vec<(Side, String, TapKind)> = tap
            .items()
            .iter()
            .map(|i| {
                (
                    i.side,
                    String::from_utf8_lossy(&i.bytes).into_owned(),
                    i.kind,
                )
            })
            .collect();
        use Side::*;
        use TapKind::*;
        assert_eq!(
            lines,
            [
                (Server, "220 mx E".into(), Line),
                (Client, "EHLO a".into(), Line),
                (Server, "250-mx".into(), Line),
                (Server, "250 STAR".into(), Line),
                (Client, "MAIL FRO".into(), Line),
                (Server, "250 ok".into(), Line),
                (Client, "DATA".into(), Line),
                (Server, "354 go".into(), Line),
                (Server, "250 queu".into(), Line),
                (Client, "STARTTLS".into(), Line),
                (Server, "220 read".into(), Line),
                (Client, "".into(), Tls),
            ]
        );
        assert_eq!(tap.items()[0].len, 12);
        assert_eq!(tap.items()[0].hash, fnv1a(b"220 mx ESMTP"));
        assert_eq!(tap.items()[11].packet.unwrap().frame, 12);
    }

    #[test]
    fn literal_marker_at_its_first_byte() {
        let mut d = MailDialog::new(None).with_tap(LineTap::new(100, 64));
        let script: &[(Side, &[u8])] = &[
            (Side::Server, b"* OK ready\r\n"),
            (Side::Client, b"a1 LOGIN bob {9}\r\n"),
            (Side::Server, b"+ go\r\n"),
            (Side::Client, b"pw-s"),
            (Side::Client, b"ecret\r\n"),
        ];
        let mut at = PerSide::both(0u64);
        for (i, (side, bytes)) in script.iter().enumerate() {
            feed(&mut d, *side, bytes, at[*side], i as u64 + 1);
            at[*side] += bytes.len() as u64;
        }
        let items = d.tap().unwrap().items();
        let literal = items
            .iter()
            .find(|i| matches!(i.kind, TapKind::Literal { .. }))
            .unwrap();
        assert_eq!(literal.kind, TapKind::Literal { total: 9 });
        assert_eq!(literal.packet.unwrap().frame, 4);
        assert!(literal.bytes.is_empty(), "a literal's bytes are not kept");
        assert_eq!(
            items
                .iter()
                .filter(|i| i.kind == TapKind::Literal { total: 9 })
                .count(),
            1
        );
    }

    #[test]
    fn bounded() {
        let mut d = MailDialog::new(None).with_tap(LineTap::new(2, 64));
        feed(&mut d, Side::Server, b"+OK a\r\n+OK b\r\n+OK c\r\n", 0, 1);
        let tap = d.tap().unwrap();
        assert_eq!(tap.items().len(), 2);
        assert_eq!(tap.dropped(), 1);
    }
}

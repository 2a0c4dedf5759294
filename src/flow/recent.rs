//! The last bytes delivered in a stream, kept to compare retransmissions
//! with: a fixed-size ring written with plain memory copies.

use super::PacketRef;
use std::collections::VecDeque;

/// A ring of the last `capacity` bytes of a stream, with the packets that
/// carried them. Allocated on first use.
#[derive(Debug, Default)]
pub(crate) struct RecentBytes {
    ring: Vec<u8>,
    /// Index in `ring` of the oldest byte.
    head: usize,
    len: usize,
    /// Stream offset of the oldest byte.
    start: u64,
    /// (offset of a delivery's first retained byte, its packet), oldest
    /// first.
    packets: VecDeque<(u64, PacketRef)>,
}

impl RecentBytes {
    /// The stream range held: `[start, end)`.
    pub(crate) fn range(&self) -> (u64, u64) {
        (self.start, self.start + self.len as u64)
    }

    /// Forgets everything; the next byte will be at `offset`.
    pub(crate) fn reset(&mut self, offset: u64) {
        self.head = 0;
        self.len = 0;
        self.start = offset;
        self.packets.clear();
    }

    /// Appends `data`, delivered at `offset`, keeping the last `capacity`
    /// bytes. A delivery that does not adjoin what is held starts afresh.
    pub(crate) fn push(&mut self, offset: u64, data: &[u8], packet: PacketRef, capacity: usize) {
        if capacity == 0 {
            return;
        }
        if self.ring.len() != capacity {
            self.ring = vec![0; capacity];
            self.reset(offset);
        }
        if offset != self.start + self.len as u64 {
            self.reset(offset);
        }
        let tail = data
            .get(data.len().saturating_sub(capacity)..)
            .unwrap_or(data);
        let tail_offset = offset + (data.len() - tail.len()) as u64;
        if tail.len() == capacity {
            // The tail alone fills the ring.
            self.reset(tail_offset);
        }
        // Write at the end of the ring, in at most two pieces.
        let mut at = (self.head + self.len) % capacity;
        let mut rest = tail;
        while !rest.is_empty() {
            let room = (capacity - at).min(rest.len());
            if let (Some(dst), Some(src)) = (self.ring.get_mut(at..at + room), rest.get(..room)) {
                dst.copy_from_slice(src);
            }
            rest = rest.get(room..).unwrap_or_default();
            at = (at + room) % capacity;
        }
        let total = self.len + tail.len();
        if total > capacity {
            let drop = total - capacity;
            self.head = (self.head + drop) % capacity;
            self.start += drop as u64;
            self.len = capacity;
        } else {
            self.len = total;
        }
        self.packets
            .push_back((tail_offset.max(self.start), packet));
        while self.packets.len() > 1 && self.packets.get(1).is_some_and(|(o, _)| *o <= self.start) {
            self.packets.pop_front();
        }
    }

    /// The held bytes of `[from, to)` (clamped to what is held).
    pub(crate) fn bytes(&self, from: u64, to: u64) -> Vec<u8> {
        let (start, end) = self.range();
        let (from, to) = (from.max(start), to.min(end));
        let mut out = Vec::with_capacity(to.saturating_sub(from) as usize);
        let capacity = self.ring.len();
        if capacity == 0 {
            return out;
        }
        for off in from..to {
            let i = (self.head + (off - start) as usize) % capacity;
            if let Some(b) = self.ring.get(i) {
                out.push(*b);
            }
        }
        out
    }

    /// The packet that delivered the byte at `offset`.
    pub(crate) fn packet_at(&self, offset: u64) -> Option<PacketRef> {
        self.packets
            .iter()
            .rev()
            .find(|(o, _)| *o <= offset)
            .or(self.packets.front())
            .map(|(_, p)| *p)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::time::Timestamp;

    fn pkt(frame: u64) -> PacketRef {
        PacketRef {
            input: 0,
            frame,
            ts: Timestamp::ZERO,
        }
    }

    #[test]
    fn keeps_the_last_bytes() {
        let mut r = RecentBytes::default();
        r.push(0, b"abcdef", pkt(1), 4);
        assert_eq!(r.range(), (2, 6));
        assert_eq!(r.bytes(0, 10), b"cdef");
        r.push(6, b"gh", pkt(2), 4);
        assert_eq!(r.range(), (4, 8));
        assert_eq!(r.bytes(4, 8), b"efgh");
        assert_eq!(r.packet_at(5), Some(pkt(1)));
        assert_eq!(r.packet_at(7), Some(pkt(2)));
        r.push(8, b"i", pkt(3), 4);
        assert_eq!(r.bytes(0, 100), b"fghi");
        // Not adjoining: start afresh.
        r.push(20, b"xy", pkt(4), 4);
        assert_eq!(r.range(), (20, 22));
        assert_eq!(r.bytes(0, 100), b"xy");
    }

    #[test]
    fn wraps_many_times() {
        let mut r = RecentBytes::default();
        let data: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
        let mut off = 0u64;
        for chunk in data.chunks(7) {
            r.push(off, chunk, pkt(off), 64);
            off += chunk.len() as u64;
        }
        assert_eq!(r.bytes(0, off), data[data.len() - 64..]);
    }
}

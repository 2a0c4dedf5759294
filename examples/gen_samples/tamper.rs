//! What a middlebox that rewrites packets in place does to a conversation,
//! as a tap on its far side sees it: payload bytes replaced by others of
//! the same length (so sequence numbers stay valid), the client's address
//! and port translated (NAT), sequence numbers shifted (the Cisco ASA
//! randomizes initial sequence numbers), and each side's packets seen a
//! little earlier or later than at the other tap. Frames are rebuilt from
//! the changed packets, so every checksum is right.

use super::conversation::{Captured, Conversation, Dir};
use stripwatch::time::Timestamp;

#[derive(Clone, Debug, Default)]
pub struct Tamper {
    /// NAT: (the client's `address:port` in the conversation, at this tap).
    pub nat: Vec<(String, String)>,
    /// Added (wrapping) to the sequence numbers of each side [client,
    /// server], and to the acknowledgement numbers that answer them.
    pub isn_shift: [u32; 2],
    /// Nanoseconds added to the capture time of each side's packets
    /// [client, server] (negative: seen earlier).
    pub delay_nanos: [i64; 2],
    /// Bytes of one side's payloads replaced, each `from` by `to` of the
    /// same length.
    pub replace: Vec<(Dir, Vec<u8>, Vec<u8>)>,
}

impl Tamper {
    /// Replaces `from` by `to` in `side`'s payloads.
    pub fn replace(mut self, side: Dir, from: &str, to: &str) -> Self {
        assert_eq!(from.len(), to.len(), "a rewrite keeps the length");
        self.replace
            .push((side, from.as_bytes().to_vec(), to.as_bytes().to_vec()));
        self
    }

    /// The conversation's endpoints at this tap.
    pub fn conversation(&self, c: &Conversation) -> Conversation {
        let mut c = c.clone();
        for (from, to) in &self.nat {
            if c.client == from.parse().expect("client address:port") {
                c.client = to.parse().expect("client address:port");
            }
        }
        c
    }

    /// One captured packet as this tap saw it.
    pub fn packet(&self, mut captured: Captured) -> Captured {
        let from = captured.packet.from;
        let p = &mut captured.packet;
        p.seq = p.seq.wrapping_add(self.isn_shift[from.index()]);
        if let Some(ack) = p.ack.as_mut() {
            *ack = ack.wrapping_add(self.isn_shift[from.other().index()]);
        }
        for (side, old, new) in &self.replace {
            if *side != from {
                continue;
            }
            let mut at = 0;
            while let Some(i) = find(&p.payload[at..], old) {
                let start = at + i;
                p.payload[start..start + old.len()].copy_from_slice(new);
                at = start + old.len();
            }
        }
        captured.ts = shift(captured.ts, self.delay_nanos[from.index()]);
        captured
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

fn shift(ts: Timestamp, nanos: i64) -> Timestamp {
    let total = i128::from(ts.secs) * 1_000_000_000 + i128::from(ts.nanos) + i128::from(nanos);
    Timestamp::new(
        (total.div_euclid(1_000_000_000)) as i64,
        total.rem_euclid(1_000_000_000) as u32,
    )
}

/// The Cisco ASA's `mask-banner`: the greeting's text replaced by
/// asterisks, every `2` and `0` kept (`220 ****2***0***`).
pub fn asa_mask_banner(greeting: &str) -> String {
    let line = greeting.trim_end_matches("\r\n");
    let (code, text) = line.split_at(4);
    let masked: String = text
        .chars()
        .map(|c| if c == '2' || c == '0' { c } else { '*' })
        .collect();
    format!("{code}{masked}{}", &greeting[line.len()..])
}

//! A sample: a name, the conversations it holds, their framing and the file
//! format, plus whole-file effects (snaplen, gzip, rotation, truncation).

use super::conversation::{Captured, Conversation};
use super::formats::{self, Format, Frame};
use super::packet::{self, Link};
use super::tamper::Tamper;

#[derive(Clone, Debug)]
pub struct Sample {
    /// Path under the samples directory: a file, or the directory of a
    /// rotated capture.
    pub name: String,
    /// What the sample holds, for the README.
    pub about: String,
    pub conversations: Vec<Conversation>,
    /// Framing of every frame (pcapng: each interface has its own).
    pub link: Link,
    pub format: Format,
    /// Frames longer than this are cut (the file header records it).
    pub snaplen: Option<u32>,
    pub gzip: bool,
    /// Rotated capture: file names (inside `name`) with the index of their
    /// first frame, in order.
    pub rotation: Vec<(String, usize)>,
    /// The file ends in the middle of this (1-based) packet's record.
    pub cut_in_packet: Option<usize>,
    /// What a middlebox did to every packet before this tap saw it (see
    /// [`Tamper`]): the other side of a `stripwatch diff` pair.
    pub tamper: Option<Tamper>,
}

impl Sample {
    pub fn new(name: &str, about: &str) -> Self {
        Sample {
            name: name.to_string(),
            about: about.to_string(),
            conversations: Vec::new(),
            link: Link::Ethernet,
            format: Format::pcap(),
            snaplen: None,
            gzip: false,
            rotation: Vec::new(),
            cut_in_packet: None,
            tamper: None,
        }
    }

    /// The packets as a tap behind a middlebox saw them.
    pub fn tamper(mut self, tamper: Tamper) -> Self {
        self.tamper = Some(tamper);
        self
    }

    pub fn conversation(mut self, c: Conversation) -> Self {
        self.conversations.push(c);
        self
    }

    pub fn link(mut self, link: Link) -> Self {
        self.link = link;
        self
    }

    pub fn format(mut self, format: Format) -> Self {
        self.format = format;
        self
    }

    pub fn big_endian(self) -> Self {
        self.format(Format::Pcap {
            big_endian: true,
            nanos: false,
        })
    }

    pub fn nanos(self) -> Self {
        self.format(Format::Pcap {
            big_endian: false,
            nanos: true,
        })
    }

    pub fn snaplen(mut self, n: u32) -> Self {
        self.snaplen = Some(n);
        self
    }

    pub fn gzip(mut self) -> Self {
        self.gzip = true;
        self
    }

    /// Splits the capture into files: `(file name, first frame index)`.
    pub fn rotate(mut self, files: &[(&str, usize)]) -> Self {
        assert_eq!(
            files.first().map(|f| f.1),
            Some(0),
            "first file starts at 0"
        );
        self.rotation = files.iter().map(|(n, i)| (n.to_string(), *i)).collect();
        self
    }

    pub fn cut_in_packet(mut self, number: usize) -> Self {
        self.cut_in_packet = Some(number);
        self
    }

    /// The link of a conversation's frames.
    pub fn link_of(&self, c: &Conversation) -> Link {
        match &self.format {
            Format::Pcap { .. } => self.link,
            Format::PcapNg(sections) => sections[c.section].interfaces[c.interface].link,
        }
    }

    /// Every captured packet with the index of its conversation, in file
    /// order (by section, then time; ties keep the conversations' order).
    /// Frame number `n` (1-based) of an unrotated sample is entry `n - 1`.
    pub fn placed(&self) -> Vec<(usize, Captured)> {
        let mut keyed = Vec::new();
        for (ci, conv) in self.conversations.iter().enumerate() {
            for (pi, captured) in conv.captured().into_iter().enumerate() {
                keyed.push(((conv.section, captured.ts, ci, pi), (ci, captured)));
            }
        }
        keyed.sort_by_key(|(k, _)| *k);
        keyed.into_iter().map(|(_, placed)| placed).collect()
    }

    /// Every frame, in file order (see [`Sample::placed`]).
    pub fn frames(&self) -> Vec<Frame> {
        let tampered: Vec<Conversation> = match &self.tamper {
            Some(t) => self
                .conversations
                .iter()
                .map(|c| t.conversation(c))
                .collect(),
            None => Vec::new(),
        };
        self.placed()
            .into_iter()
            .map(|(ci, captured)| {
                let (conv, captured) = match &self.tamper {
                    Some(t) => (&tampered[ci], t.packet(captured)),
                    None => (&self.conversations[ci], captured),
                };
                Frame {
                    ts: captured.ts,
                    section: conv.section,
                    interface: conv.interface,
                    data: packet::frame(self.link_of(conv), conv, &captured),
                }
            })
            .collect()
    }

    /// The files of the sample: (path under the samples directory, bytes).
    pub fn render(&self) -> Vec<(String, Vec<u8>)> {
        let frames = self.frames();
        if self.rotation.is_empty() {
            return vec![(self.name.clone(), self.encode(&frames))];
        }
        let mut out = Vec::new();
        for (i, (file, first)) in self.rotation.iter().enumerate() {
            let end = self.rotation.get(i + 1).map_or(frames.len(), |n| n.1);
            let part = &frames[*first..end];
            out.push((format!("{}/{}", self.name, file), self.encode(part)));
        }
        out
    }

    fn encode(&self, frames: &[Frame]) -> Vec<u8> {
        let write = |frames: &[Frame]| match &self.format {
            Format::Pcap { big_endian, nanos } => {
                formats::pcap(frames, self.link, *big_endian, *nanos, self.snaplen)
            }
            Format::PcapNg(sections) => formats::pcapng(frames, sections, self.snaplen),
        };
        let mut bytes = write(frames);
        if let Some(n) = self.cut_in_packet {
            assert!(matches!(self.format, Format::Pcap { .. }), "cut pcap only");
            assert!(n >= 1 && n <= frames.len(), "no packet {n} to cut");
            let record_start = write(&frames[..n - 1]).len();
            let caplen = write(&frames[..n]).len() - record_start - 16;
            // Header complete, half of the packet bytes.
            bytes.truncate(record_start + 16 + caplen / 2);
        }
        if self.gzip {
            bytes = formats::gzip(&bytes);
        }
        bytes
    }
}

//! Capture files, packet decoding, and the whole pipeline over arbitrary
//! capture bytes.

use super::input::Input;
use super::output::{analyze_bytes, check_rendered, check_report_facts};
use crate::analysis::AnalysisOptions;
use crate::capture::CaptureFile;
use crate::capture::linktype;
use crate::decode;
use crate::flow::FlowConfig;
use std::io::Cursor;

/// Largest frame a capture may hand out (the reader's buffer limit).
const MAX_FRAME: usize = 16 << 20;

/// `CaptureFile::from_reader` over arbitrary bytes; every frame is read
/// (and decoded, as the pipeline does).
pub(crate) fn capture(data: &[u8]) {
    let source = Box::new(Cursor::new(data.to_vec()));
    let Ok(mut file) = CaptureFile::from_reader("fuzz.pcap".to_string(), source) else {
        return;
    };
    let mut last = 0u64;
    let result = file.for_each_frame(|frame| {
        assert_eq!(frame.number, last + 1, "frames numbered from 1 in order");
        last = frame.number;
        assert!(
            frame.data.len() <= MAX_FRAME,
            "frame within the buffer limit"
        );
        assert!(frame.ts.nanos < 1_000_000_000, "normalised timestamp");
        let _ = decode::decode(frame.link, frame.data);
        true
    });
    assert_eq!(file.frames(), last);
    if let Err(e) = result {
        assert_eq!(e.packet, Some(last + 1), "the error names the next packet");
        let message = e.to_string();
        assert!(message.starts_with("fuzz.pcap: packet "), "{message}");
    }
}

/// Link types the decoder knows, and a few it does not.
const LINKS: [i32; 13] = [
    linktype::ETHERNET,
    linktype::ETHERNET,
    linktype::RAW,
    linktype::RAW_BSD_12,
    linktype::RAW_BSD_14,
    linktype::IPV4,
    linktype::IPV6,
    linktype::LINUX_SLL,
    linktype::LINUX_SLL2,
    linktype::NULL,
    linktype::LOOP,
    147,
    -1,
];

/// `decode::decode` for each link type: first byte picks it, the rest is
/// the frame.
pub(crate) fn decode(data: &[u8]) {
    let mut input = Input::new(data);
    let pick = usize::from(input.u8());
    let link = LINKS[pick % LINKS.len()];
    let frame = input.rest();
    let Ok(seg) = decode::decode(link, frame) else {
        return;
    };
    let start = (seg.payload.as_ptr() as usize).wrapping_sub(frame.as_ptr() as usize);
    assert!(
        seg.payload.is_empty() || start + seg.payload.len() <= frame.len(),
        "the payload lies inside the frame"
    );
    let _ = seg.checksum_status();
    let _ = (
        seg.flags.syn(),
        seg.flags.fin(),
        seg.flags.rst(),
        seg.flags.ack(),
    );
}

/// The whole pipeline, as `stripwatch analyze` runs it, over arbitrary
/// capture bytes; the report rendered in every format and checked.
pub(crate) fn pipeline(data: &[u8]) {
    let rendered = analyze_bytes(
        data,
        FlowConfig::default(),
        AnalysisOptions::default(),
        1,
        true,
    );
    check_report_facts(&rendered);
    check_rendered(&rendered);
}

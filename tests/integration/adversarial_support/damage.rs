//! Damaged capture files: where their headers are, and what every run on
//! one must end in (a clear error naming the file and packet, or a correct
//! report; never a panic).

use super::{GOOD_CLIENT, TempFile, analyze, assert_good, run_binary};
use stripwatch::flow::{EndReason, FlowConfig};

/// Byte ranges of a capture's headers: the pcap file header and first
/// record header, or the pcapng section header, interface description
/// and the first enhanced packet block's header.
pub fn header_ranges(bytes: &[u8]) -> std::ops::Range<usize> {
    if bytes.starts_with(&[0x0a, 0x0d, 0x0d, 0x0a]) {
        let len =
            |at: usize| u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
        let shb = len(0);
        let idb = len(shb);
        0..shb + idb + 28
    } else {
        0..24 + 16
    }
}

/// The library in-process on a capture of the good session damaged as
/// `what` says: no panic; an error names the file (and the packet when
/// one was reached); without an error the good session is right, or split
/// by an idle timeout (a timestamp moved), or not recognised at all (a
/// link type changed).
pub fn check_in_process(file: &TempFile, what: &str) {
    let name = file.path().display().to_string();
    let result = std::panic::catch_unwind(|| analyze(file, FlowConfig::default()));
    let (report, _) = result.unwrap_or_else(|_| panic!("{what}: panicked"));
    let input = &report.inputs[0];
    if let Some(e) = &input.error {
        assert!(e.starts_with(&name), "{what}: {e}");
        if let Some(n) = input.error_packet {
            assert!(e.contains(&format!("packet {n}")), "{what}: {e}");
        }
        return;
    }
    let good: Vec<_> = report
        .sessions
        .iter()
        .filter(|s| s.client.to_string() == GOOD_CLIENT)
        .map(|s| (s.id, s.transport.end))
        .collect();
    match good.len() {
        0 => assert_eq!(input.mail_segments, 0, "{what}"),
        1 => assert_good(&report),
        n => {
            let timed_out = good[..n - 1].iter().all(|g| g.1 == EndReason::Timeout);
            assert!(timed_out, "{what}: {good:?}");
        }
    }
}

/// The binary on the same file: exit status 0, 1 or 2, no panic, and the
/// file named when it could not be read completely.
pub fn check_binary(file: &TempFile, what: &str) {
    let name = file.path().display().to_string();
    let (status, _, err) = run_binary(file, &["--format", "json", "-q"]);
    assert!(matches!(status, 0..=2), "{what}: status {status}: {err}");
    assert!(!err.contains("panicked"), "{what}: {err}");
    if status == 2 {
        assert!(err.contains(&name), "{what}: {err}");
    }
}

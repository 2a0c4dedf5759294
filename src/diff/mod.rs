//! `stripwatch diff`: the same sessions (any upgrade protocol) seen at two taps, one on
//! each side of a middlebox, compared line by line to prove what the path
//! between them changed (lines, or messages for binary protocols).
//!
//! One tap shows that STARTTLS is missing; two taps show which box removed
//! it. The steps, one module each:
//!
//! 1. [`collect`](mod@collect): each tap's inputs run through the flow table; every
//!    session keeps its lines (commands, replies, capability lists; not
//!    bodies, not literals' bytes, nothing after TLS) with the packet behind
//!    each, bounded.
//! 2. [`pair`]: sessions of the two taps are paired: same five-tuple; else
//!    NAT (addresses or ports rewritten, initial sequence numbers shifted:
//!    relative sequence numbers, segment lengths and timing agree); else a
//!    terminating proxy (a new TCP connection on the far side: server port,
//!    time and dialog similarity). Each pair says how and how sure.
//! 3. [`align`]: per pair and direction, the two versions of the stream are
//!    aligned line by line (longest common subsequence, then the lines in
//!    between matched by likeness), up to TLS.
//! 4. [`roles`] and [`classify`]: every difference becomes a typed change (capability
//!    removed or masked, banner masked, command rewritten or masked,
//!    command or reply injected or dropped, STARTTLS answered by the
//!    middlebox, TLS on one side only) with both versions and their packets;
//!    [`upgrade`](mod@upgrade) adds what each tap's dialog concluded about the
//!    offer, request and answer where the lines did not tell it (binary
//!    protocols, XML streams, lists shaped unlike mail's).
//! 5. [`attribute`]: what the path did, in words, and whether it is the
//!    Cisco ASA's signature.
//! 6. [`report`] and [`output`]: records, a table, one JSON document, JSON
//!    lines.

pub(crate) mod align;
pub(crate) mod attribute;
pub(crate) mod classify;
pub(crate) mod collect;
mod html;
pub mod output;
pub(crate) mod pair;
pub(crate) mod report;
pub(crate) mod roles;
pub(crate) mod upgrade;

pub(crate) use collect::collect;
pub(crate) use report::{DiffReport, build_report};

use crate::capture::InputSpec;
use crate::flow::FlowConfig;
use crate::time::Timestamp;
use serde::Serialize;

/// Which tap a capture comes from, as the command line named them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tap {
    /// The captures named `INSIDE` (and `--inside`): a label only, which tap is nearer the
    /// clients is found per session.
    Inside,
    /// The captures named `OUTSIDE` (and `--outside`).
    Outside,
}

impl Tap {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Tap::Inside => "inside",
            Tap::Outside => "outside",
        }
    }

    pub(crate) fn other(self) -> Tap {
        match self {
            Tap::Inside => Tap::Outside,
            Tap::Outside => Tap::Inside,
        }
    }
}

/// Choices of a diff run.
#[derive(Clone, Copy, Debug)]
pub struct DiffOptions {
    /// Show passwords and tokens in changed lines (masked by default).
    pub show_secrets: bool,
    /// Largest gap between the first packets of two sessions that may be
    /// paired (seconds).
    pub window_secs: f64,
}

impl Default for DiffOptions {
    fn default() -> Self {
        DiffOptions {
            show_secrets: false,
            window_secs: 30.0,
        }
    }
}

/// Seconds from `a` to `b` (negative when `b` is earlier).
pub(crate) fn seconds_between(a: Timestamp, b: Timestamp) -> f64 {
    let nanos = |t: Timestamp| i128::from(t.secs) * 1_000_000_000 + i128::from(t.nanos);
    (nanos(b) - nanos(a)) as f64 / 1e9
}

/// A duration for people: `1.6 ms`, `250 µs`, `3.2 s`.
pub(crate) fn human_duration(secs: f64) -> String {
    let abs = secs.abs();
    if abs < 1e-3 {
        format!("{:.0} µs", abs * 1e6)
    } else if abs < 1.0 {
        format!("{:.1} ms", abs * 1e3)
    } else {
        format!("{abs:.1} s")
    }
}

/// Reads both taps (on two threads), pairs their sessions and compares
/// each pair.
pub fn diff(
    inside: &[InputSpec],
    outside: &[InputSpec],
    config: FlowConfig,
    options: &DiffOptions,
) -> DiffReport {
    let (a, b) = std::thread::scope(|scope| {
        let config_b = config.clone();
        let far = scope.spawn(move || collect(Tap::Outside, outside, config_b));
        let near = collect(Tap::Inside, inside, config);
        match far.join() {
            Ok(far) => (near, far),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    });
    build_report(&a, &b, options)
}

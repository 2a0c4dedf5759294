//! The capture's clock: what time it is, for idle timeouts, whatever odd
//! timestamps a capture holds.
//!
//! Captures from the wild carry corrupt timestamps: one SYN-ACK stamped
//! 1.5 billion seconds late, one packet stamped in 1970. Taken at its word,
//! a late stamp jumps the clock and times out every open session (the
//! rest of each then opens a phantom second one); an early one makes its
//! session look idle. So the clock never goes back, and it jumps forward
//! past the idle timeout only when [`CONFIRMING_PACKETS`] packets in a row
//! say so (a capture that really paused); a lone stamp far off is an
//! outlier that moves nothing. Which packets belong to a session is the
//! flow table's business (four-tuple, handshake, sequence numbers), never
//! the clock's.

use crate::time::Timestamp;

/// Packets in a row stamped past the idle timeout ahead of the clock that
/// make it jump there (a real pause in the capture): one alone is an
/// outlier, and two corrupt stamps in a row are already rare.
pub(crate) const CONFIRMING_PACKETS: u32 = 3;

/// The clock of one run over its inputs (every frame, mail or not).
#[derive(Clone, Debug)]
pub(crate) struct CaptureClock {
    now: Option<Timestamp>,
    /// How far ahead a stamp may be before it needs confirming: the idle
    /// timeout (a smaller jump ends nothing).
    jump_secs: i64,
    /// Packets in a row stamped too far ahead: the earliest stamp, and how
    /// many.
    ahead: Option<(Timestamp, u32)>,
}

impl CaptureClock {
    pub(crate) fn new(idle_timeout_secs: i64) -> Self {
        CaptureClock {
            now: None,
            jump_secs: idle_timeout_secs.max(1),
            ahead: None,
        }
    }

    /// A packet stamped `ts` was read. Returns the clock's new time when it
    /// entered a later second (idle flows are due then).
    pub(crate) fn observe(&mut self, ts: Timestamp) -> Option<Timestamp> {
        let Some(now) = self.now else {
            self.now = Some(ts);
            return Some(ts);
        };
        let to = if off_clock(ts, now, self.jump_secs) > 0 {
            let (earliest, n) = match self.ahead {
                Some((earliest, n)) => (earliest.min(ts), n + 1),
                None => (ts, 1),
            };
            if n < CONFIRMING_PACKETS {
                self.ahead = Some((earliest, n));
                return None;
            }
            earliest
        } else {
            ts
        };
        self.ahead = None;
        if to <= now {
            return None;
        }
        self.now = Some(to);
        (to.secs > now.secs).then_some(to)
    }
}

/// How far `ts` is off a clock reading `now`, in whole seconds, when it is
/// more than `limit_secs` off (positive: ahead); 0 when it is on time.
pub(crate) fn off_clock(ts: Timestamp, now: Timestamp, limit_secs: i64) -> i64 {
    let off = ts.secs.saturating_sub(now.secs);
    if off.saturating_abs() > limit_secs {
        off
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: i64) -> Timestamp {
        Timestamp::new(secs, 0)
    }

    /// Stamps in, the clock's ticks out (`None`: no tick).
    #[test]
    fn outliers_move_nothing_and_real_pauses_do() {
        const LATE: i64 = 1_000 + 1_500_000_000;
        type Case<'a> = (&'a str, &'a [i64], &'a [Option<i64>]);
        let cases: &[Case<'_>] = &[
            (
                "steady",
                &[1_000, 1_000, 1_001, 1_003],
                &[Some(1_000), None, Some(1_001), Some(1_003)],
            ),
            (
                "one stamp 1.5e9 s late",
                &[1_000, LATE, 1_001, 1_002],
                &[Some(1_000), None, Some(1_001), Some(1_002)],
            ),
            (
                "two late stamps in a row",
                &[1_000, LATE, LATE, 1_001],
                &[Some(1_000), None, None, Some(1_001)],
            ),
            (
                "one stamp in 1970",
                &[1_000, 0, 1_001],
                &[Some(1_000), None, Some(1_001)],
            ),
            (
                "a real pause of two hours: jumps at the third packet",
                &[1_000, 8_200, 8_201, 8_202, 8_203],
                &[Some(1_000), None, None, Some(8_200), Some(8_203)],
            ),
            (
                "a pause within the idle timeout is no jump",
                &[1_000, 1_600],
                &[Some(1_000), Some(1_600)],
            ),
            (
                "a late stamp inside a real pause: the earliest of the run",
                &[1_000, 8_200, LATE, 8_201],
                &[Some(1_000), None, None, Some(8_200)],
            ),
            ("first packet sets the clock", &[LATE], &[Some(LATE)]),
        ];
        for (name, stamps, want) in cases {
            let mut clock = CaptureClock::new(600);
            let got: Vec<Option<i64>> = stamps
                .iter()
                .map(|s| clock.observe(t(*s)).map(|ts| ts.secs))
                .collect();
            assert_eq!(got, *want, "{name}");
        }
    }

    #[test]
    fn off_clock_is_zero_within_the_limit() {
        assert_eq!(off_clock(t(1_600), t(1_000), 600), 0);
        assert_eq!(off_clock(t(1_601), t(1_000), 600), 601);
        assert_eq!(off_clock(t(0), t(1_000), 600), -1_000);
        assert_eq!(off_clock(t(i64::MIN), t(i64::MAX), 600), i64::MIN);
    }
}

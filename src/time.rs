//! Capture timestamps and their RFC 3339 rendering.

use std::fmt;

/// A capture timestamp: seconds and nanoseconds since the Unix epoch, UTC.
///
/// Capture files carry micro- or nanosecond resolution (pcapng any power of
/// 2 or 10); everything is normalised to nanoseconds here.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    /// Whole seconds since 1970-01-01 UTC; negative before it (a pcapng offset can put it there).
    pub secs: i64,
    /// Nanoseconds past `secs`, below 1_000_000_000 when built by [`Timestamp::new`].
    pub nanos: u32,
}

impl Timestamp {
    pub(crate) const ZERO: Timestamp = Timestamp { secs: 0, nanos: 0 };

    /// The timestamp `secs` + `nanos`, carrying whole seconds in `nanos` into `secs` (saturating).
    pub fn new(secs: i64, nanos: u32) -> Self {
        let carry = i64::from(nanos / 1_000_000_000);
        Timestamp {
            secs: secs.saturating_add(carry),
            nanos: nanos % 1_000_000_000,
        }
    }

    /// A timestamp from a count of `units` per second (e.g. 1_000_000 for
    /// microseconds), as pcapng stores it.
    pub(crate) fn from_units(count: u64, units_per_sec: u64) -> Self {
        let units = units_per_sec.max(1);
        let secs = count / units;
        let frac = count % units;
        // frac < units, so frac * 1e9 / units < 1e9; u128 avoids overflow for
        // resolutions finer than a nanosecond.
        let nanos = (u128::from(frac) * 1_000_000_000 / u128::from(units)) as u32;
        Timestamp::new(i64::try_from(secs).unwrap_or(i64::MAX), nanos)
    }

    /// Seconds as a float, for durations and rates in human output.
    pub(crate) fn as_secs_f64(&self) -> f64 {
        self.secs as f64 + f64::from(self.nanos) / 1e9
    }
}

/// The first and last instants RFC 3339 can write (years 0000 to 9999).
const RFC3339_FIRST: Timestamp = Timestamp {
    secs: -62_167_219_200,
    nanos: 0,
};
const RFC3339_LAST: Timestamp = Timestamp {
    secs: 253_402_300_799,
    nanos: 999_999_999,
};

impl Timestamp {
    /// Whether RFC 3339 can write this instant (years 0000 to 9999). A
    /// pcapng timestamp is 64 bits of any unit: a hostile file can say
    /// year 500,000.
    pub(crate) fn in_rfc3339_range(&self) -> bool {
        (RFC3339_FIRST..=RFC3339_LAST).contains(self)
    }

    /// The RFC 3339 text in `buf` (`Display`'s format). Instants outside
    /// years 0000 to 9999 are clamped to the first or last one, so the text
    /// is always valid; whoever reports them checks
    /// [`Self::in_rfc3339_range`]. Written digit by digit: reports render a
    /// few timestamps per session, and `write!` with padding costs ten
    /// times as much.
    pub(crate) fn rfc3339<'b>(&self, buf: &'b mut [u8; 30]) -> &'b str {
        let t = (*self).clamp(RFC3339_FIRST, RFC3339_LAST);
        let days = t.secs.div_euclid(86_400);
        let rem = t.secs.rem_euclid(86_400) as u32;
        let (y, m, d) = civil_from_days(days);
        let y = u32::try_from(y).unwrap_or(0);
        let (hh, mm, ss) = (rem / 3600, (rem % 3600) / 60, rem % 60);
        let (frac, width) = if t.nanos % 1000 == 0 {
            (t.nanos / 1000, 6)
        } else {
            (t.nanos, 9)
        };
        let mut at = 0;
        let mut put = |value: u32, digits: u32, after: u8| {
            for i in (0..digits).rev() {
                if let Some(b) = buf.get_mut(at) {
                    *b = b'0' + (value / 10u32.pow(i) % 10) as u8;
                }
                at += 1;
            }
            if let Some(b) = buf.get_mut(at) {
                *b = after;
                at += 1;
            }
        };
        put(y, 4, b'-');
        put(m, 2, b'-');
        put(d, 2, b'T');
        put(hh, 2, b':');
        put(mm, 2, b':');
        put(ss, 2, b'.');
        put(frac, width, b'Z');
        // Only ASCII digits and separators were written.
        buf.get(..at)
            .and_then(|text| std::str::from_utf8(text).ok())
            .unwrap_or_default()
    }
}

impl fmt::Display for Timestamp {
    /// RFC 3339 in UTC with microseconds, e.g. `2024-03-01T12:00:00.123456Z`.
    /// Nanoseconds are shown only when the capture has them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.rfc3339(&mut [0; 30]))
    }
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day).
/// Howard Hinnant's `civil_from_days`, valid for the whole i64 day range we
/// can meet in a capture file (32-bit seconds).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339() {
        assert_eq!(
            Timestamp::new(0, 0).to_string(),
            "1970-01-01T00:00:00.000000Z"
        );
        assert_eq!(
            Timestamp::new(1_709_294_400, 123_456_000).to_string(),
            "2024-03-01T12:00:00.123456Z"
        );
        assert_eq!(
            Timestamp::new(951_782_400, 1).to_string(),
            "2000-02-29T00:00:00.000000001Z"
        );
        assert_eq!(
            Timestamp::new(-1, 0).to_string(),
            "1969-12-31T23:59:59.000000Z"
        );
    }

    /// The digit-by-digit rendering agrees with `write!` over the range.
    #[test]
    fn rfc3339_fast_path_agrees_with_write() {
        let slow = |t: Timestamp| {
            let days = t.secs.div_euclid(86_400);
            let rem = t.secs.rem_euclid(86_400);
            let (y, m, d) = civil_from_days(days);
            let (hh, mm, ss) = (rem / 3600, (rem % 3600) / 60, rem % 60);
            let frac = if t.nanos % 1000 == 0 {
                format!("{:06}", t.nanos / 1000)
            } else {
                format!("{:09}", t.nanos)
            };
            format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}.{frac}Z")
        };
        let mut secs: i64 = -62_167_219_200; // 0000-01-01
        let mut nanos: u32 = 0;
        while secs < 253_402_300_800 {
            let t = Timestamp::new(secs, nanos);
            assert_eq!(t.rfc3339(&mut [0; 30]), slow(t), "{t:?}");
            secs += 7_777_777;
            nanos = nanos.wrapping_mul(31).wrapping_add(999_001) % 1_000_000_000;
        }
        let last = Timestamp::new(253_402_300_799, 999_999_999);
        assert_eq!(last.to_string(), "9999-12-31T23:59:59.999999999Z");
        assert!(last.in_rfc3339_range());
    }

    /// Outside years 0000 to 9999 the text is the nearest end of the
    /// range, still valid RFC 3339.
    #[test]
    fn out_of_range_is_clamped() {
        for (secs, nanos, want) in [
            (253_402_300_800, 0, "9999-12-31T23:59:59.999999999Z"),
            (i64::MAX, 999_999_999, "9999-12-31T23:59:59.999999999Z"),
            (-62_167_219_201, 0, "0000-01-01T00:00:00.000000Z"),
            (i64::MIN, 0, "0000-01-01T00:00:00.000000Z"),
        ] {
            let t = Timestamp::new(secs, nanos);
            assert!(!t.in_rfc3339_range(), "{t:?}");
            assert_eq!(t.to_string(), want);
        }
        let first = Timestamp::new(-62_167_219_200, 0);
        assert!(first.in_rfc3339_range());
        assert_eq!(first.to_string(), "0000-01-01T00:00:00.000000Z");
        // The largest pcapng timestamp (2^64 - 1 microseconds).
        let far = Timestamp::from_units(u64::MAX, 1_000_000);
        assert!(!far.in_rfc3339_range());
        assert_eq!(far.to_string(), "9999-12-31T23:59:59.999999999Z");
    }

    #[test]
    fn units() {
        assert_eq!(
            Timestamp::from_units(1_500_000, 1_000_000),
            Timestamp::new(1, 500_000_000)
        );
        assert_eq!(Timestamp::from_units(3, 2), Timestamp::new(1, 500_000_000));
        assert_eq!(Timestamp::from_units(7, 0), Timestamp::new(7, 0));
    }
}

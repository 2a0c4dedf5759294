//! Capture timestamps and their RFC 3339 rendering.

use std::fmt;

/// A capture timestamp: seconds and nanoseconds since the Unix epoch, UTC.
///
/// Capture files carry micro- or nanosecond resolution (pcapng any power of
/// 2 or 10); everything is normalised to nanoseconds here.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    pub secs: i64,
    pub nanos: u32,
}

impl Timestamp {
    pub const ZERO: Timestamp = Timestamp { secs: 0, nanos: 0 };

    pub fn new(secs: i64, nanos: u32) -> Self {
        let carry = i64::from(nanos / 1_000_000_000);
        Timestamp {
            secs: secs.saturating_add(carry),
            nanos: nanos % 1_000_000_000,
        }
    }

    /// A timestamp from a count of `units` per second (e.g. 1_000_000 for
    /// microseconds), as pcapng stores it.
    pub fn from_units(count: u64, units_per_sec: u64) -> Self {
        let units = units_per_sec.max(1);
        let secs = count / units;
        let frac = count % units;
        // frac < units, so frac * 1e9 / units < 1e9; u128 avoids overflow for
        // resolutions finer than a nanosecond.
        let nanos = (u128::from(frac) * 1_000_000_000 / u128::from(units)) as u32;
        Timestamp::new(i64::try_from(secs).unwrap_or(i64::MAX), nanos)
    }

    /// Seconds as a float, for durations and rates in human output.
    pub fn as_secs_f64(&self) -> f64 {
        self.secs as f64 + f64::from(self.nanos) / 1e9
    }

    /// Whole seconds elapsed from `earlier` to `self` (0 when `earlier` is later).
    pub fn secs_since(&self, earlier: Timestamp) -> i64 {
        self.secs.saturating_sub(earlier.secs).max(0)
    }
}

impl Timestamp {
    /// The RFC 3339 text in `buf` (`Display`'s format), for years 0 to 9999;
    /// `None` otherwise. Written digit by digit: reports render a few
    /// timestamps per session, and `write!` with padding costs ten times
    /// as much.
    pub fn rfc3339<'b>(&self, buf: &'b mut [u8; 30]) -> Option<&'b str> {
        let days = self.secs.div_euclid(86_400);
        let rem = self.secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        let y = u32::try_from(y).ok().filter(|y| *y <= 9999)?;
        let rem = rem as u32;
        let (hh, mm, ss) = (rem / 3600, (rem % 3600) / 60, rem % 60);
        let (frac, width) = if self.nanos % 1000 == 0 {
            (self.nanos / 1000, 6)
        } else {
            (self.nanos, 9)
        };
        let mut at = 0;
        let mut put = |value: u32, digits: u32, after: Option<u8>| {
            for i in (0..digits).rev() {
                if let Some(b) = buf.get_mut(at) {
                    *b = b'0' + (value / 10u32.pow(i) % 10) as u8;
                }
                at += 1;
            }
            if let (Some(sep), Some(b)) = (after, buf.get_mut(at)) {
                *b = sep;
                at += 1;
            }
        };
        put(y, 4, Some(b'-'));
        put(m, 2, Some(b'-'));
        put(d, 2, Some(b'T'));
        put(hh, 2, Some(b':'));
        put(mm, 2, Some(b':'));
        put(ss, 2, Some(b'.'));
        put(frac, width, Some(b'Z'));
        std::str::from_utf8(buf.get(..at)?).ok()
    }
}

impl fmt::Display for Timestamp {
    /// RFC 3339 in UTC with microseconds, e.g. `2024-03-01T12:00:00.123456Z`.
    /// Nanoseconds are shown only when the capture has them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(text) = self.rfc3339(&mut [0; 30]) {
            return f.write_str(text);
        }
        let days = self.secs.div_euclid(86_400);
        let rem = self.secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        let (hh, mm, ss) = (rem / 3600, (rem % 3600) / 60, rem % 60);
        write!(f, "{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}")?;
        if self.nanos % 1000 == 0 {
            write!(f, ".{:06}Z", self.nanos / 1000)
        } else {
            write!(f, ".{:09}Z", self.nanos)
        }
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

    /// The digit-by-digit rendering agrees with `write!` wherever it
    /// applies, and years outside it still render.
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
            assert_eq!(t.rfc3339(&mut [0; 30]), Some(slow(t).as_str()), "{t:?}");
            secs += 7_777_777;
            nanos = nanos.wrapping_mul(31).wrapping_add(999_001) % 1_000_000_000;
        }
        let last = Timestamp::new(253_402_300_799, 999_999_999);
        assert_eq!(last.to_string(), "9999-12-31T23:59:59.999999999Z");
        for outside in [253_402_300_800, -62_167_219_201, i64::MAX / 2] {
            let t = Timestamp::new(outside, 0);
            assert_eq!(t.rfc3339(&mut [0; 30]), None);
            assert_eq!(t.to_string(), slow(t));
        }
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

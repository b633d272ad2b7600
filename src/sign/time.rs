//! Timestamps in the forms the signatures need, without a date library.

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch, UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp {
    unix: u64,
}

impl Timestamp {
    pub fn from_unix(secs: u64) -> Timestamp {
        Timestamp { unix: secs }
    }

    /// Now, by this host's clock (clamped at the epoch).
    pub fn now() -> Timestamp {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Timestamp::from_unix(secs)
    }

    pub fn unix(&self) -> u64 {
        self.unix
    }

    /// ISO 8601 basic form, as `x-amz-date` wants it: `20150830T123600Z`.
    pub fn amz_date(&self) -> String {
        let (y, m, d) = civil_from_days(self.unix / 86_400);
        let s = self.unix % 86_400;
        format!(
            "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
            s / 3600,
            s / 60 % 60,
            s % 60
        )
    }

    /// `20150830`, the date of the SigV4 credential scope.
    pub fn date_stamp(&self) -> String {
        let (y, m, d) = civil_from_days(self.unix / 86_400);
        format!("{y:04}{m:02}{d:02}")
    }

    /// RFC 7231 IMF-fixdate: `Sun, 30 Aug 2015 12:36:00 GMT`.
    pub fn http_date(&self) -> String {
        httpdate::fmt_http_date(UNIX_EPOCH + std::time::Duration::from_secs(self.unix))
    }

    /// ISO 8601 / RFC 3339 extended form, as STS, the metadata services and
    /// credential_process write an `Expiration`: `2026-11-29T09:30:00Z`, with optional
    /// fractional seconds (dropped) and a `Z` or `+hh:mm`/`-hh:mm` offset. None for
    /// anything else, and for instants before the epoch.
    pub fn parse_iso8601(text: &str) -> Option<Timestamp> {
        let t = text.trim().as_bytes();
        let num = |range: std::ops::Range<usize>| -> Option<u64> {
            let digits = t.get(range)?;
            if !digits.iter().all(u8::is_ascii_digit) {
                return None;
            }
            std::str::from_utf8(digits).ok()?.parse().ok()
        };
        let sep = |i: usize, c: &[u8]| t.get(i).is_some_and(|b| c.contains(b));
        if !(sep(4, b"-") && sep(7, b"-") && sep(10, b"Tt ") && sep(13, b":") && sep(16, b":")) {
            return None;
        }
        let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
        if !(1..=12).contains(&month)
            || day == 0
            || day > days_in_month(year, month)
            || hour > 23
            || minute > 59
            || second > 60
        {
            return None;
        }
        let mut rest = t.get(19..)?;
        if let Some(fraction) = rest.strip_prefix(b".") {
            let digits = fraction.iter().take_while(|b| b.is_ascii_digit()).count();
            if digits == 0 {
                return None;
            }
            rest = &fraction[digits..];
        }
        let offset: i64 = match rest {
            b"Z" | b"z" => 0,
            [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
                let two = |a: u8, b: u8| -> Option<i64> {
                    (a.is_ascii_digit() && b.is_ascii_digit())
                        .then(|| i64::from(a - b'0') * 10 + i64::from(b - b'0'))
                };
                let (h, m) = (two(*h1, *h2)?, two(*m1, *m2)?);
                if h > 23 || m > 59 {
                    return None;
                }
                let secs = h * 3600 + m * 60;
                if *sign == b'+' {
                    secs
                } else {
                    -secs
                }
            }
            _ => return None,
        };
        let days = days_from_civil(year, month, day)?;
        let local = days * 86_400 + hour * 3600 + minute * 60 + second;
        let unix = i64::try_from(local).ok()?.checked_sub(offset)?;
        u64::try_from(unix).ok().map(Timestamp::from_unix)
    }
}

fn days_in_month(year: u64, month: u64) -> u64 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// (year, month, day) to days since 1970-01-01, proleptic Gregorian; None before 1970
/// (H. Hinnant, "chrono-Compatible Low-Level Date Algorithms", days_from_civil).
pub fn days_from_civil(year: u64, month: u64, day: u64) -> Option<u64> {
    let y = if month <= 2 {
        year.checked_sub(1)?
    } else {
        year
    };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe).checked_sub(719_468)
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian
/// (H. Hinnant, "chrono-Compatible Low-Level Date Algorithms", civil_from_days).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        let cases = [
            (0, "19700101T000000Z", "Thu, 01 Jan 1970 00:00:00 GMT"),
            (
                1_440_938_160,
                "20150830T123600Z",
                "Sun, 30 Aug 2015 12:36:00 GMT",
            ),
            (
                1_369_353_600,
                "20130524T000000Z",
                "Fri, 24 May 2013 00:00:00 GMT",
            ),
            (
                1_456_747_199,
                "20160229T115959Z",
                "Mon, 29 Feb 2016 11:59:59 GMT",
            ),
            (
                951_782_400,
                "20000229T000000Z",
                "Tue, 29 Feb 2000 00:00:00 GMT",
            ),
            (
                4_107_542_400,
                "21000301T000000Z",
                "Mon, 01 Mar 2100 00:00:00 GMT",
            ),
            (
                4_107_542_399,
                "21000228T235959Z",
                "Sun, 28 Feb 2100 23:59:59 GMT",
            ),
        ];
        for (unix, amz, http) in cases {
            let t = Timestamp::from_unix(unix);
            assert_eq!(t.amz_date(), amz);
            assert_eq!(t.date_stamp(), &amz[..8]);
            assert_eq!(t.http_date(), http);
            let iso = format!(
                "{}-{}-{}T{}:{}:{}Z",
                &amz[0..4],
                &amz[4..6],
                &amz[6..8],
                &amz[9..11],
                &amz[11..13],
                &amz[13..15]
            );
            assert_eq!(Timestamp::parse_iso8601(&iso), Some(t), "{iso}");
        }
    }

    #[test]
    fn iso8601_forms_the_credential_sources_write() {
        let at = Timestamp::from_unix(1_440_938_160); // 2015-08-30T12:36:00Z
        for text in [
            "2015-08-30T12:36:00Z",
            "2015-08-30T12:36:00.000Z",
            "2015-08-30T12:36:00.123456789Z",
            " 2015-08-30T12:36:00Z\n",
            "2015-08-30T14:36:00+02:00",
            "2015-08-30T07:36:00-05:00",
            "2015-08-30t12:36:00z",
        ] {
            assert_eq!(Timestamp::parse_iso8601(text), Some(at), "{text}");
        }
        for bad in [
            "",
            "2015-08-30",
            "2015-08-30T12:36:00",
            "2015-02-29T00:00:00Z",
            "2015-13-01T00:00:00Z",
            "2015-08-30T24:00:00Z",
            "2015-08-30T12:36:00.Z",
            "2015-08-30T12:36:00+2:00",
            "1969-12-31T23:59:59Z",
            "20150830T123600Z",
            "+015-08-30T12:36:00Z",
            "2015-08-30T12:36:00Zjunk",
        ] {
            assert_eq!(Timestamp::parse_iso8601(bad), None, "{bad}");
        }
        assert_eq!(
            Timestamp::parse_iso8601("2016-02-29T00:00:00Z"),
            Some(Timestamp::from_unix(1_456_704_000))
        );
        assert_eq!(
            Timestamp::parse_iso8601("1970-01-01T00:00:00Z"),
            Some(Timestamp::from_unix(0))
        );
    }
}

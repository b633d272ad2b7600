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
        }
    }
}

//! Times on the command line: milliseconds since the epoch shown as UTC
//! dates, and UTC dates read back.

use anyhow::{bail, Context};

/// `ms` since the Unix epoch as `YYYY-MM-DD HH:MM:SS UTC`.
pub(super) fn utc(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// Reads `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM` or `YYYY-MM-DDTHH:MM:SS` (a
/// space for the `T` also does; an optional trailing `Z`), always UTC, as
/// ms since the epoch.
pub(super) fn parse_utc(text: &str) -> anyhow::Result<i64> {
    let t = text.trim().trim_end_matches('Z');
    let (date, time) = t.split_once(['T', ' ']).unwrap_or((t, "00:00:00"));
    let number = |s: &str| -> anyhow::Result<i64> {
        s.parse::<u32>()
            .map(i64::from)
            .with_context(|| format!("`{text}` is not a UTC date (YYYY-MM-DD[THH:MM[:SS]])"))
    };
    let d: Vec<&str> = date.split('-').collect();
    let h: Vec<&str> = time.split(':').collect();
    if d.len() != 3 || !(2..=3).contains(&h.len()) {
        bail!("`{text}` is not a UTC date (YYYY-MM-DD[THH:MM[:SS]])");
    }
    let (year, month, day) = (number(d[0])?, number(d[1])?, number(d[2])?);
    let (hour, minute) = (number(h[0])?, number(h[1])?);
    let second = h.get(2).map_or(Ok(0), |s| number(s))?;
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 59
    {
        bail!("`{text}` is not a valid UTC date and time");
    }
    let days = days_from_civil(year, month, day);
    if civil_from_days(days) != (year, month, day) {
        bail!("`{text}` is not a date of the calendar");
    }
    Ok(((days * 86_400) + hour * 3600 + minute * 60 + second) * 1000)
}

/// Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// Days since 1970-01-01 of a civil date (the inverse of the above).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_print_as_utc_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        // 2024-02-29 12:34:56 UTC, a leap day.
        assert_eq!(utc(1_709_210_096_000), "2024-02-29 12:34:56 UTC");
        assert_eq!(utc(1_796_256_000_000), "2026-12-03 00:00:00 UTC");
    }

    #[test]
    fn dates_read_back_as_what_they_print() {
        assert_eq!(parse_utc("1970-01-01").unwrap(), 0);
        assert_eq!(
            parse_utc("2024-02-29T12:34:56Z").unwrap(),
            1_709_210_096_000
        );
        assert_eq!(parse_utc("2024-02-29 12:34:56").unwrap(), 1_709_210_096_000);
        assert_eq!(parse_utc("2026-12-03T00:00").unwrap(), 1_796_256_000_000);
        for bad in [
            "2023-02-29",
            "2026-13-01",
            "2026-12",
            "yesterday",
            "2026-12-01T25:00",
        ] {
            assert!(parse_utc(bad).is_err(), "{bad}");
        }
    }
}

//! Timestamps: RFC 3339 UTC with exactly six fractional digits and `Z`, as every record shows.

use time::{OffsetDateTime, format_description::well_known::Rfc3339, macros::format_description};

/// The earliest time a request may name: 0000-01-01T00:00:00Z, in Unix microseconds (RFC 3339
/// cannot write an earlier one).
pub const MIN_MICROS: i64 = -62_167_219_200_000_000;
/// The latest: 9999-12-31T23:59:59.999999Z. Times between the two leave room for any sum or
/// difference of two of them in an `i64`.
pub const MAX_MICROS: i64 = 253_402_300_799_999_999;

/// Microseconds since the Unix epoch, now.
#[must_use]
pub fn now_micros() -> i64 {
    let nanos = OffsetDateTime::now_utc().unix_timestamp_nanos();
    i64::try_from(nanos / 1000).unwrap_or(i64::MAX)
}

/// `2026-11-23T10:41:56.123456Z` for a time in Unix microseconds.
///
/// Every record carries a few of these, so years 0–9999 (every time a request can name) are
/// written digit by digit; `time`'s formatter, about ten times slower, writes the others.
#[must_use]
pub fn format_micros(micros: i64) -> String {
    let Ok(time) = OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000) else {
        return EPOCH.to_owned();
    };
    let (year, month, day) = time.to_calendar_date();
    let Ok(year) = u32::try_from(year) else {
        return format_with_time(time);
    };
    if year > 9999 {
        return format_with_time(time);
    }
    let mut text = *b"0000-00-00T00:00:00.000000Z";
    let fields = [
        (0..4, year),
        (5..7, u32::from(u8::from(month))),
        (8..10, u32::from(day)),
        (11..13, u32::from(time.hour())),
        (14..16, u32::from(time.minute())),
        (17..19, u32::from(time.second())),
        (20..26, time.microsecond()),
    ];
    for (digits, mut value) in fields {
        for digit in text[digits].iter_mut().rev() {
            *digit = b'0' + (value % 10) as u8;
            value /= 10;
        }
    }
    text.iter().copied().map(char::from).collect()
}

/// What [`format_micros`] answers for a time `time` cannot represent.
const EPOCH: &str = "1970-01-01T00:00:00.000000Z";

fn format_with_time(time: OffsetDateTime) -> String {
    let format =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");
    time.format(&format).unwrap_or_else(|_| EPOCH.to_owned())
}

/// Parses an RFC 3339 timestamp into Unix microseconds.
#[must_use]
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let t = OffsetDateTime::parse(text, &Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1000).ok()
}

/// Parses a duration such as `90s`, `10m`, `1h30m`, `2d` or `1500ms` into microseconds.
#[must_use]
pub fn parse_duration(text: &str) -> Option<i64> {
    let mut total: i64 = 0;
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        if digits == 0 {
            return None;
        }
        let value: i64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let per_unit: i64 = match &rest[..unit_len] {
            "us" => 1,
            "ms" => 1_000,
            "s" => 1_000_000,
            "m" => 60_000_000,
            "h" => 3_600_000_000,
            "d" => 86_400_000_000,
            _ => return None,
        };
        total = total.checked_add(value.checked_mul(per_unit)?)?;
        rest = &rest[unit_len..];
    }
    Some(total)
}

/// A point in time given as RFC 3339 or as a duration back from now (`10m` = ten minutes ago);
/// `None` also when the time falls outside [`MIN_MICROS`]..=[`MAX_MICROS`].
#[must_use]
pub fn parse_since(text: &str) -> Option<i64> {
    parse_rfc3339(text)
        .or_else(|| parse_duration(text).and_then(|d| now_micros().checked_sub(d)))
        .filter(|t| (MIN_MICROS..=MAX_MICROS).contains(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_six_digits_and_z() {
        assert_eq!(format_micros(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(format_micros(1_700_000_000_123_456), "2023-11-14T22:13:20.123456Z");
        assert_eq!(parse_rfc3339("2023-11-14T22:13:20.123456Z"), Some(1_700_000_000_123_456));
    }

    #[test]
    fn digit_by_digit_formatting_matches_the_time_crate() {
        let step = (MAX_MICROS - MIN_MICROS) / 9_973;
        let mut samples = vec![MIN_MICROS, MAX_MICROS, -1, 0, 1, 951_782_400_000_000];
        samples.extend((0..9_973).map(|i| MIN_MICROS + i * step + i * 7_919));
        for micros in samples {
            let time =
                OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000).unwrap();
            assert_eq!(format_micros(micros), format_with_time(time), "{micros}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10m"), Some(600_000_000));
        assert_eq!(parse_duration("1h30m"), Some(5_400_000_000));
        assert_eq!(parse_duration("1500ms"), Some(1_500_000));
        for bad in ["", "m", "10", "10x", "-5m"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn times_stay_within_years_0_to_9999() {
        assert_eq!(parse_rfc3339("0000-01-01T00:00:00Z"), Some(MIN_MICROS));
        assert_eq!(parse_rfc3339("9999-12-31T23:59:59.999999Z"), Some(MAX_MICROS));
        assert_eq!(parse_since("0000-01-01T00:00:00Z"), Some(MIN_MICROS));
        assert!(parse_since("10m").is_some_and(|t| t < now_micros()));
        assert!(parse_since("700000d").is_some(), "1,900 years back: year 110");
        // 2,700 years back is before year 0.
        for bad in ["9223372036854775807us", "9223372036854775807s", "1000000d"] {
            assert_eq!(parse_since(bad), None, "{bad}");
        }
        assert!(MAX_MICROS.checked_sub(MIN_MICROS).is_some());
    }
}

//! The little calendar arithmetic requests and rules need: RFC 3339 instants for time windows and
//! today's date for templates. UTC throughout, no time-zone database; the `time` crate
//! does the parsing and the calendar.

use std::borrow::Cow;

use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcDateTime};

/// A text that is not an RFC 3339 instant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not an RFC 3339 time like 2026-11-27T09:30:00Z")]
pub struct TimeError {
    /// The text as given.
    pub text: String,
}

/// Parses an RFC 3339 instant (`2026-11-27T09:30:00Z`, `2026-11-27T10:30:00+01:00`,
/// fractions of a second allowed) into seconds since the Unix epoch.
///
/// Date and time are separated by `T`, `t` or a space; the offset is `Z`, `z` or
/// `±HH:MM` (hours up to 23, minutes up to 59). Fractions are dropped (the instant is
/// rounded down to its second), and a leap second (`:60`) counts as `:59`.
pub fn parse_rfc3339(text: &str) -> Result<i64, TimeError> {
    let bad = || TimeError { text: text.to_owned() };
    // `time` takes any one byte between date and time; we take the three RFC 3339 names.
    if !matches!(text.as_bytes().get(10), Some(b'T' | b't' | b' ')) {
        return Err(bad());
    }
    // `time` takes a leap second only as the last second of a month in UTC; we read `:60`
    // as `:59` whatever the day, as we always have.
    let text_59 = match text.get(16..19) {
        Some(":60") => Cow::Owned(format!("{}:59{}", &text[..16], &text[19..])),
        _ => Cow::Borrowed(text),
    };
    OffsetDateTime::parse(&text_59, &Rfc3339).map(OffsetDateTime::unix_timestamp).map_err(|_| bad())
}

/// `YYYY-MM-DD` (UTC) of an instant in seconds since the Unix epoch (instants beyond the
/// years ±9999 give the first or last day of that range).
pub fn utc_date(unix_seconds: i64) -> String {
    let date = utc(unix_seconds).date();
    format!("{:04}-{:02}-{:02}", date.year(), u8::from(date.month()), date.day())
}

/// An instant in seconds since the Unix epoch as RFC 3339 in UTC, `2026-12-01T00:00:00Z`,
/// as editors write time windows (clamped to the years ±9999 like [`utc_date`]).
pub fn format_rfc3339(unix_seconds: i64) -> String {
    let instant = utc(unix_seconds);
    let (hour, minute, second) = instant.time().as_hms();
    format!("{}T{hour:02}:{minute:02}:{second:02}Z", utc_date(unix_seconds))
}

fn utc(unix_seconds: i64) -> UtcDateTime {
    UtcDateTime::from_unix_timestamp(unix_seconds).unwrap_or(if unix_seconds < 0 {
        UtcDateTime::MIN
    } else {
        UtcDateTime::MAX
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(parse_rfc3339("2026-11-24T03:00:00Z"), Ok(1_795_489_200));
        assert_eq!(parse_rfc3339("2026-11-24T04:00:00+01:00"), Ok(1_795_489_200));
        assert_eq!(parse_rfc3339("2026-11-24T03:00:00.123Z"), Ok(1_795_489_200));
        assert_eq!(parse_rfc3339("2000-02-29T00:00:00Z"), Ok(951_782_400));
    }

    #[test]
    fn malformed_instants_are_refused() {
        for text in [
            "2026-11-24",
            "2026-13-01T00:00:00Z",
            "2026-02-30T00:00:00Z",
            "2026-11-24T03:00:00",
            "2026-11-24T03:00:00+1",
            "tomorrow",
            "2026-11-24T03:00:00.Z",
        ] {
            assert!(parse_rfc3339(text).is_err(), "{text}");
        }
    }

    #[test]
    fn every_form_rfc_3339_allows_is_accepted() {
        let instant = 1_795_489_200; // 2026-11-24T03:00:00Z
        for text in [
            "2026-11-24t03:00:00Z",
            "2026-11-24 03:00:00z",
            "2026-11-24T03:00:00.999999999999Z",
            "2026-11-23T22:30:00-04:30",
            "2026-11-24T03:00:00+00:00",
            "2026-11-24T03:00:00-00:00",
        ] {
            assert_eq!(parse_rfc3339(text), Ok(instant), "{text}");
        }
        // A leap second counts as the second before it, on any day.
        assert_eq!(parse_rfc3339("2026-11-24T02:59:60Z"), Ok(instant - 1));
        assert_eq!(parse_rfc3339("2016-12-31T23:59:60Z"), Ok(1_483_228_799));
        assert_eq!(parse_rfc3339("2016-12-31T23:59:60.5+01:00"), Ok(1_483_225_199));
    }

    #[test]
    fn other_separators_and_seconds_are_refused() {
        for text in ["2026-11-24X03:00:00Z", "2026-11-24_03:00:00Z", "2026-11-24T03:00:61Z", "2026-11-24T24:00:00Z"] {
            assert!(parse_rfc3339(text).is_err(), "{text}");
        }
    }

    #[test]
    fn the_error_names_the_text() {
        assert_eq!(
            parse_rfc3339("soon").unwrap_err().to_string(),
            r#""soon" is not an RFC 3339 time like 2026-11-27T09:30:00Z"#
        );
    }

    #[test]
    fn dates_round_trip() {
        assert_eq!(utc_date(0), "1970-01-01");
        assert_eq!(utc_date(1_795_489_200), "2026-11-24");
        assert_eq!(utc_date(951_782_400), "2000-02-29");
        assert_eq!(utc_date(-1), "1969-12-31");
    }

    #[test]
    fn instants_format_as_editors_write_them() {
        for text in ["1970-01-01T00:00:00Z", "2026-11-24T03:00:00Z", "2026-12-31T23:59:59Z"] {
            assert_eq!(format_rfc3339(parse_rfc3339(text).unwrap()), text);
        }
    }
}

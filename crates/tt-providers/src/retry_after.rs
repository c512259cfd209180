//! Reading a `Retry-After` value, shared by the HTTP adapters (which pick the header and
//! the clock; this only reads text).

use std::time::{Duration, SystemTime};

/// The longest delay-seconds value taken as given: larger ones are read as one day, which
/// also keeps an absurd value from overflowing a [`Duration`].
const MAX_DELAY_SECONDS: f64 = 86_400.0;

/// The wait a `Retry-After` value asks for, measured from `now`: delay-seconds (fractions
/// accepted, as some servers send them; capped at one day) or an HTTP date (a date in the
/// past means no wait). `None` for a negative, non-finite or unreadable value.
pub fn retry_after_delay(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<f64>() {
        return (seconds.is_finite() && seconds >= 0.0)
            .then(|| Duration::from_secs_f64(seconds.min(MAX_DELAY_SECONDS)));
    }
    let at = parse_http_date(value)?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// An HTTP date (`Wed, 21 Oct 2015 07:28:00 GMT`, as in `Date` and `Retry-After`), or
/// `None` for anything else, including a date before 1970.
pub fn parse_http_date(text: &str) -> Option<SystemTime> {
    let parsed = chrono::DateTime::parse_from_rfc2822(text.trim()).ok()?;
    let millis = u64::try_from(parsed.timestamp_millis()).ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::from_millis(millis))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Wed, 21 Oct 2015 07:28:00 GMT.
    const NOW: Duration = Duration::from_secs(1_445_412_480);

    fn delay(value: &str) -> Option<Duration> {
        retry_after_delay(value, SystemTime::UNIX_EPOCH + NOW)
    }

    #[test]
    fn delay_seconds_are_read_as_a_duration_with_fractions() {
        assert_eq!(delay("7"), Some(Duration::from_secs(7)));
        assert_eq!(delay(" 2 "), Some(Duration::from_secs(2)));
        assert_eq!(delay("0.25"), Some(Duration::from_millis(250)));
    }

    #[test]
    fn delay_seconds_beyond_a_day_are_read_as_one_day() {
        assert_eq!(delay("1e30"), Some(Duration::from_secs(86_400)));
    }

    #[test]
    fn an_http_date_is_measured_from_now_and_a_past_one_means_no_wait() {
        assert_eq!(delay("Wed, 21 Oct 2015 07:28:30 GMT"), Some(Duration::from_secs(30)));
        assert_eq!(delay("Wed, 21 Oct 2015 07:27:00 GMT"), Some(Duration::ZERO));
    }

    #[test]
    fn negative_or_garbled_values_give_no_wait() {
        assert_eq!(delay("soon"), None);
        assert_eq!(delay("-3"), None);
        assert_eq!(delay("NaN"), None);
        assert_eq!(delay(""), None);
    }

    #[test]
    fn an_http_date_is_parsed_to_its_instant() {
        assert_eq!(
            parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(SystemTime::UNIX_EPOCH + NOW)
        );
        assert_eq!(parse_http_date("yesterday"), None);
    }
}

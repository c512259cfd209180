//! The wall clock, for servers and tests that run the engine for real.

use std::time::{SystemTime, UNIX_EPOCH};

use tt_domain::{Clock, Timestamp};

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        #[expect(
            clippy::disallowed_methods,
            reason = "this is the one place that reads the wall clock"
        )]
        let elapsed =
            SystemTime::now().duration_since(UNIX_EPOCH).expect("the clock is after 1970");
        Timestamp::from_millis(i64::try_from(elapsed.as_millis()).expect("milliseconds fit in i64"))
    }
}

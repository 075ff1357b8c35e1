//! Wall-clock time since the Unix epoch, in the units netmon's values use: capture times in
//! microseconds, samples and records in milliseconds. A clock set before 1970 reads 0.

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, in microseconds since the Unix epoch (the clock of capture times).
pub fn unix_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            i64::try_from(since.as_micros()).unwrap_or(i64::MAX)
        })
}

/// Now, in milliseconds since the Unix epoch.
pub fn unix_ms() -> i64 {
    unix_micros() / 1000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_units_read_the_same_clock() {
        let (micros, ms) = (unix_micros(), unix_ms());
        assert!(micros > 1_700_000_000_000_000, "after 2023: {micros}");
        assert!(
            (ms - micros / 1000).abs() < 1000,
            "{ms} ms against {micros} µs"
        );
    }
}

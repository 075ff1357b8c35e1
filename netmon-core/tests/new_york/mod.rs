//! The store tests' time zone: New York, whose DST changes the tests cross.

#![allow(dead_code)]

use jiff::tz::TimeZone;

pub fn zone() -> TimeZone {
    TimeZone::get("America/New_York").expect("the tz database has America/New_York")
}

/// Milliseconds of a civil time in New York.
pub fn ny(text: &str) -> i64 {
    text.parse::<jiff::civil::DateTime>()
        .unwrap()
        .to_zoned_datetime(zone())
        .unwrap()
        .timestamp()
        .as_millisecond()
}

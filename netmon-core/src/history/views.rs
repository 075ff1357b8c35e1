//! One JSON shape per view of the history, built from the store: `netmon timeline|heatmap
//! --json` print these, and the API's `/timeline`, `/heatmap` and `/apps/{app}` answer them.
//! The ranked lists (`/apps`, `/domains`, hostnames), the summary and the trends are the store's
//! own types ([`AppTotal`](crate::store::AppTotal), …), likewise shared.

use serde::Serialize;

use crate::store::{
    bucket_for_span, DomainTotal, ProcessRecord, Range, Store, StoreError, TimelinePoint,
};

/// Names of the heatmap's rows, Monday first.
pub const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// Usage over time, in buckets sized for the range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct TimelineView {
    pub start_ms: i64,
    pub end_ms: i64,
    /// Length of every bucket: 5 minutes up to a day, hours up to 8 days, local days beyond,
    /// unless asked otherwise.
    pub bucket_ms: i64,
    /// Every bucket of the range, oldest first, empty ones included.
    pub points: Vec<TimelinePoint>,
}

/// Bytes per local weekday and hour.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct HeatmapView {
    /// The rows' weekdays: `Mon` … `Sun`.
    pub weekdays: Vec<String>,
    /// 7 rows (row 0 = Monday) of 24 hours (column 0 = midnight), in bytes.
    pub bytes: Vec<Vec<u64>>,
    /// The busiest cell, in bytes (0 for an empty range).
    pub max_bytes: u64,
}

/// One application in detail: its timeline and the processes seen for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(
    feature = "openapi",
    derive(poem_openapi::Object),
    oai(skip_serializing_if_is_none)
)]
pub struct AppDetailView {
    pub app: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exe: Option<String>,
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
    pub processes: Vec<ProcessRecord>,
    /// The registrable domains its bytes went to, busiest first (at most 50).
    pub domains: Vec<DomainTotal>,
    pub bucket_ms: i64,
    pub points: Vec<TimelinePoint>,
}

/// The bucket for `range` when none is asked for (see [`bucket_for_span`]).
pub fn default_bucket(range: Range) -> i64 {
    bucket_for_span(range.end_ms.saturating_sub(range.start_ms))
}

/// The timeline of `range` in buckets of `bucket_ms` (by default sized for the range).
pub fn timeline(
    store: &Store,
    range: Range,
    bucket_ms: Option<i64>,
) -> Result<TimelineView, StoreError> {
    let bucket_ms = bucket_ms.unwrap_or_else(|| default_bucket(range));
    Ok(TimelineView {
        start_ms: range.start_ms,
        end_ms: range.end_ms,
        bucket_ms,
        points: store.timeline(range, bucket_ms)?,
    })
}

/// Usage by local weekday and hour in `range`.
pub fn heatmap(store: &Store, range: Range) -> Result<HeatmapView, StoreError> {
    let grid = store.heatmap(range)?;
    Ok(HeatmapView {
        weekdays: WEEKDAYS.map(String::from).to_vec(),
        bytes: grid.iter().map(|hours| hours.to_vec()).collect(),
        max_bytes: grid.iter().flatten().copied().max().unwrap_or(0),
    })
}

/// Application `name` in `range`; `None` when the history has no such application.
pub fn app_detail(
    store: &Store,
    name: &str,
    range: Range,
) -> Result<Option<AppDetailView>, StoreError> {
    let bucket_ms = default_bucket(range);
    let domains = store.app_domains(name, range, 50)?.unwrap_or_default();
    Ok(store
        .app_detail(name, range, bucket_ms)?
        .map(|detail| AppDetailView {
            app: detail.app,
            exe: detail.exe,
            first_seen_ms: detail.first_seen_ms,
            last_seen_ms: detail.last_seen_ms,
            processes: detail.processes,
            domains,
            bucket_ms,
            points: detail.points,
        }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::{Direction, Sample, SampleStats, Usage};

    fn store_with(bytes: u64) -> Store {
        let mut store = Store::in_memory(jiff::tz::TimeZone::UTC).unwrap();
        let usage = Usage {
            app: "zen".into(),
            destination: None,
            direction: Direction::Received,
            bytes,
            packets: 1,
        };
        // 2026-11-02 was a Monday; 10:00 UTC.
        let start_ms = 1_793_613_600_000;
        let sample = Sample {
            start_ms,
            end_ms: start_ms + 5000,
            usage: vec![usage],
            processes: vec![],
            stats: SampleStats::default(),
        };
        store.write(&[sample]).unwrap();
        store
    }

    #[test]
    fn the_heatmap_names_its_rows_and_its_busiest_cell() {
        let store = store_with(700);
        let range = Range {
            start_ms: 1_793_500_000_000,
            end_ms: 1_793_700_000_000,
        };
        let view = heatmap(&store, range).unwrap();
        assert_eq!(view.weekdays[0], "Mon");
        assert_eq!(view.bytes.len(), 7);
        assert_eq!(view.bytes[0][10], 700);
        assert_eq!(view.max_bytes, 700);
        let json = serde_json::to_value(&view).unwrap();
        assert_eq!(json["bytes"][0][10], 700);
    }

    #[test]
    fn a_timeline_says_its_range_and_bucket() {
        let store = store_with(500);
        let range = Range {
            start_ms: 1_793_610_000_000,
            end_ms: 1_793_620_000_000,
        };
        let view = timeline(&store, range, None).unwrap();
        assert_eq!((view.start_ms, view.end_ms), (range.start_ms, range.end_ms));
        assert_eq!(view.bucket_ms, 300_000);
        assert_eq!(view.points.iter().map(|p| p.received).sum::<u64>(), 500);
        let hourly = timeline(&store, range, Some(3_600_000)).unwrap();
        assert_eq!(hourly.bucket_ms, 3_600_000);
    }
}

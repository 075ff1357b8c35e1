//! `/live`: one Server-Sent Event per sample, with total and per-application rates.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::Arc;

use netmon_core::{Direction, Sample};
use poem_openapi::payload::EventStream;
use poem_openapi::{Object, OpenApi};
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::{Stream, StreamExt};

use super::common::Tag;
use crate::state::AppState;

/// Rates of one application during the last sample.
#[derive(Debug, Object)]
struct AppRate {
    app: String,
    received_bytes_per_second: f64,
    sent_bytes_per_second: f64,
}

/// One sample's rates, streamed as it is taken.
#[derive(Debug, Object)]
struct LiveSample {
    start_ms: i64,
    end_ms: i64,
    received_bytes_per_second: f64,
    sent_bytes_per_second: f64,
    packets_per_second: f64,
    active_flows: u64,
    /// Applications, busiest first.
    apps: Vec<AppRate>,
}

type LiveStream = Pin<Box<dyn Stream<Item = LiveSample> + Send>>;

/// Live rates.
pub(crate) struct LiveApi {
    state: AppState,
}

impl LiveApi {
    pub(crate) fn new(state: AppState) -> Self {
        Self { state }
    }
}

#[OpenApi]
impl LiveApi {
    /// Live rates: one event per sample, total and per application.
    #[oai(path = "/live", method = "get", tag = "Tag::Live")]
    async fn live(&self) -> EventStream<LiveStream> {
        let samples = BroadcastStream::new(self.state.subscribe())
            .filter_map(|sample| sample.ok().map(|sample| live_sample(&sample)));
        EventStream::new(Box::pin(samples) as LiveStream)
            .keep_alive(std::time::Duration::from_secs(15))
    }
}

fn live_sample(sample: &Arc<Sample>) -> LiveSample {
    let seconds = sample.seconds();
    let mut per_app: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    sample.usage.iter().for_each(|usage| {
        let entry = per_app.entry(usage.app.as_str()).or_default();
        match usage.direction {
            Direction::Received => entry.0 += usage.bytes,
            Direction::Sent => entry.1 += usage.bytes,
        }
    });
    let mut apps: Vec<AppRate> = per_app
        .into_iter()
        .map(|(app, (received, sent))| AppRate {
            app: app.to_string(),
            received_bytes_per_second: received as f64 / seconds,
            sent_bytes_per_second: sent as f64 / seconds,
        })
        .collect();
    apps.sort_by(|a, b| {
        let total = |rate: &AppRate| rate.received_bytes_per_second + rate.sent_bytes_per_second;
        total(b).total_cmp(&total(a))
    });
    let direction_total = |wanted: Direction| -> f64 {
        sample
            .usage
            .iter()
            .filter(|usage| usage.direction == wanted)
            .map(|usage| usage.bytes)
            .sum::<u64>() as f64
            / seconds
    };
    LiveSample {
        start_ms: sample.start_ms,
        end_ms: sample.end_ms,
        received_bytes_per_second: direction_total(Direction::Received),
        sent_bytes_per_second: direction_total(Direction::Sent),
        packets_per_second: sample.stats.packets as f64 / seconds,
        active_flows: sample.stats.active_flows,
        apps,
    }
}

//! `/live`: one Server-Sent Event per sample, with total and per-application rates.

use std::pin::Pin;
use std::sync::Arc;

use netmon_core::sample::AppRate;
use netmon_core::{Direction, Sample};
use poem_openapi::payload::EventStream;
use poem_openapi::{Object, OpenApi};
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::{Stream, StreamExt};

use super::common::Tag;
use crate::state::AppState;

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
    LiveSample {
        start_ms: sample.start_ms,
        end_ms: sample.end_ms,
        received_bytes_per_second: sample.rate(Direction::Received),
        sent_bytes_per_second: sample.rate(Direction::Sent),
        packets_per_second: sample.stats.packets as f64 / seconds,
        active_flows: sample.stats.active_flows,
        apps: sample.app_rates(),
    }
}

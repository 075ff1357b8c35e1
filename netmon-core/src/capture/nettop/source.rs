//! The nettop capture source: a supervised `nettop` child whose lines go through the parser and
//! the deltas into [`Observation::ProcessBytes`].

use std::collections::HashSet;
use std::time::Duration;

use super::deltas::{Delta, Deltas};
use super::parse::Parser;
use crate::capture::supervise::{Backoff, CommandSpec, Event, Supervised};
use crate::capture::{CaptureError, CaptureSource, Observation};
use crate::process::ProcessCache;

/// Longest wait in one poll.
const POLL_TIMEOUT: Duration = Duration::from_millis(100);

/// [`Observation::ProcessBytes`] (with each connection's bytes apart).
pub struct NettopSource {
    child: Supervised,
    parser: Parser,
    deltas: Deltas,
    processes: ProcessCache,
    events: Vec<Event>,
}

impl NettopSource {
    /// Starts `spec` (see [`super::command`]); `processes` names the processes it reports.
    pub fn start(spec: CommandSpec, processes: ProcessCache) -> Result<Self, CaptureError> {
        let backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
        let child = Supervised::start(spec, backoff).map_err(|error| CaptureError::Failed {
            device: "nettop".into(),
            detail: error.to_string(),
        })?;
        Ok(Self {
            child,
            parser: Parser::default(),
            deltas: Deltas::default(),
            processes,
            events: Vec::new(),
        })
    }

    fn handle(&mut self, event: Event, batch: &mut Vec<Observation>) {
        match event {
            Event::Line(line) => {
                if let Some(snapshot) = self.parser.line(&line) {
                    let deltas = self.deltas.next(&snapshot);
                    let alive: HashSet<u32> = snapshot.iter().map(|row| row.pid).collect();
                    self.processes.retain(|pid| alive.contains(&pid));
                    batch.extend(deltas.into_iter().map(|delta| self.observation(delta)));
                }
            }
            Event::Exited | Event::Started => {
                self.parser.reset();
                self.deltas.reset();
            }
        }
    }

    fn observation(&mut self, delta: Delta) -> Observation {
        let process = self.processes.get(delta.pid, &delta.name);
        Observation::ProcessBytes(delta.into_report(process))
    }
}

impl CaptureSource for NettopSource {
    fn describe(&self) -> String {
        "nettop".into()
    }

    fn poll(&mut self, batch: &mut Vec<Observation>) -> Result<(), CaptureError> {
        let mut events = std::mem::take(&mut self.events);
        self.child.poll(POLL_TIMEOUT, &mut events);
        events.drain(..).for_each(|event| self.handle(event, batch));
        self.events = events;
        Ok(())
    }
}

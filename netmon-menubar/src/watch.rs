//! One look at the daemon: its state for the menu and today's total for the notification rule.

use jiff::ZonedDateTime;

use crate::api::{Client, LiveRates};
use crate::model::{Daemon, Running};

/// Asks the daemon for its pause flag and condition, today's and this week's totals and
/// today's top applications. No valid status answer means [`Daemon::Down`]; a history that cannot answer leaves the
/// totals out. `live` is the last sample seen on the SSE stream.
pub fn look(client: &Client, now: &ZonedDateTime, live: Option<LiveRates>) -> Daemon {
    let Ok(status) = client.status() else {
        return Daemon::Down;
    };
    let now_ms = now.timestamp().as_millisecond();
    let top_apps = start_of_day_ms(now)
        .map(|start| client.apps_since(start, now_ms.max(start + 1)))
        .and_then(Result::ok)
        .unwrap_or_default();
    Daemon::Up(Running {
        paused: status.paused,
        condition: status.condition,
        live,
        summary: client.summary().ok(),
        top_apps,
    })
}

/// Local midnight of `now`, in Unix milliseconds.
pub fn start_of_day_ms(now: &ZonedDateTime) -> Option<i64> {
    now.start_of_day()
        .ok()
        .map(|midnight| midnight.timestamp().as_millisecond())
}

/// Today's total so far, when the daemon answered with history.
pub fn today_bytes(daemon: &Daemon) -> Option<u64> {
    match daemon {
        Daemon::Up(Running {
            summary: Some(summary),
            ..
        }) => Some(summary.today.total()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{Summary, Totals};

    #[test]
    fn midnight_is_local() {
        let now: ZonedDateTime = "2026-11-25T14:30:00+01:00[Europe/Paris]".parse().unwrap();
        let midnight: ZonedDateTime = "2026-11-25T00:00:00+01:00[Europe/Paris]".parse().unwrap();
        assert_eq!(
            start_of_day_ms(&now),
            Some(midnight.timestamp().as_millisecond())
        );
    }

    #[test]
    fn today_needs_history() {
        assert_eq!(today_bytes(&Daemon::Down), None);
        assert_eq!(today_bytes(&Daemon::Up(Running::default())), None);
        let summary = Summary {
            today: Totals {
                sent: 2,
                received: 3,
            },
            week: Totals::default(),
        };
        let up = Daemon::Up(Running {
            summary: Some(summary),
            ..Running::default()
        });
        assert_eq!(today_bytes(&up), Some(5));
    }
}

//! The compact per-sample table of `netmon run --foreground`.

use std::collections::BTreeMap;

use netmon_core::{units, Direction, Sample};

/// Applications shown per sample.
const TOP_APPS: usize = 8;

/// One sample as a header line and the busiest applications.
pub fn render(sample: &Sample) -> String {
    let seconds = sample.seconds();
    let totals = per_app(sample);
    let (received, sent) = totals
        .values()
        .fold((0, 0), |(r, s), (app_r, app_s)| (r + app_r, s + app_s));
    let mut apps: Vec<(&str, u64, u64)> = totals
        .iter()
        .map(|(app, (r, s))| (app.as_str(), *r, *s))
        .collect();
    apps.sort_by_key(|(_, r, s)| std::cmp::Reverse(r + s));
    let header = format!(
        "{}  ↓ {:>10}  ↑ {:>10}  {:>6.0} pkt/s  {} flows\n",
        clock(sample.end_ms),
        units::rate(received as f64 / seconds),
        units::rate(sent as f64 / seconds),
        sample.stats.packets as f64 / seconds,
        sample.stats.active_flows,
    );
    let rows: String = apps
        .iter()
        .take(TOP_APPS)
        .map(|(app, r, s)| {
            format!(
                "  {:<24} ↓ {:>10}  ↑ {:>10}\n",
                truncate(app, 24),
                units::rate(*r as f64 / seconds),
                units::rate(*s as f64 / seconds)
            )
        })
        .collect();
    header + &rows
}

/// Received and sent bytes per application.
fn per_app(sample: &Sample) -> BTreeMap<String, (u64, u64)> {
    sample
        .usage
        .iter()
        .fold(BTreeMap::new(), |mut totals, usage| {
            let entry = totals.entry(usage.app.clone()).or_insert((0, 0));
            match usage.direction {
                Direction::Received => entry.0 += usage.bytes,
                Direction::Sent => entry.1 += usage.bytes,
            }
            totals
        })
}

/// `HH:MM:SS` (UTC) of a Unix time in milliseconds.
fn clock(unix_ms: i64) -> String {
    let seconds = unix_ms.div_euclid(1000).rem_euclid(86_400);
    format!(
        "{:02}:{:02}:{:02}Z",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    )
}

fn truncate(text: &str, width: usize) -> String {
    text.chars().take(width).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use netmon_core::sample::{SampleStats, Usage};

    fn usage(app: &str, direction: Direction, bytes: u64) -> Usage {
        Usage {
            app: app.into(),
            destination: None,
            direction,
            bytes,
            packets: 1,
        }
    }

    #[test]
    fn renders_rates_busiest_first() {
        let sample = Sample {
            start_ms: 0,
            end_ms: 5000,
            usage: vec![
                usage("small", Direction::Sent, 5_000),
                usage("big", Direction::Received, 5_000_000),
                usage("big", Direction::Sent, 50_000),
            ],
            processes: vec![],
            stats: SampleStats {
                packets: 500,
                active_flows: 3,
                ..SampleStats::default()
            },
        };
        let text = render(&sample);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(
            lines[0].starts_with("00:00:05Z  ↓   1.0 MB/s  ↑  11.0 KB/s"),
            "{text}"
        );
        assert!(lines[0].contains("100 pkt/s  3 flows"), "{text}");
        assert!(lines[1].trim_start().starts_with("big"), "{text}");
        assert!(lines[2].contains("↑   1.0 KB/s"), "{text}");
    }
}

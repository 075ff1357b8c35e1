//! The compact per-sample table of `netmon run --foreground`.

use netmon_core::{units, Direction, Sample};

/// Applications shown per sample.
const TOP_APPS: usize = 8;

/// One sample as a header line and the busiest applications (core's per-application rates,
/// the same the API's `/live` streams).
pub fn render(sample: &Sample) -> String {
    let seconds = sample.seconds();
    let header = format!(
        "{}  ↓ {:>10}  ↑ {:>10}  {:>6.0} pkt/s  {} flows\n",
        clock(sample.end_ms),
        units::rate(sample.rate(Direction::Received)),
        units::rate(sample.rate(Direction::Sent)),
        sample.stats.packets as f64 / seconds,
        sample.stats.active_flows,
    );
    let rows: String = sample
        .app_rates()
        .iter()
        .take(TOP_APPS)
        .map(|rate| {
            format!(
                "  {:<24} ↓ {:>10}  ↑ {:>10}\n",
                truncate(&rate.app, 24),
                units::rate(rate.received_bytes_per_second),
                units::rate(rate.sent_bytes_per_second)
            )
        })
        .collect();
    header + &rows
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
        Usage::new(app, direction, bytes)
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

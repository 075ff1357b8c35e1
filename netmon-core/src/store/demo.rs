//! Synthetic history for demos, tests and benchmarks: fifty applications, five hundred hostnames
//! (browsers only), a daily rhythm, busier weekends, and bursts (downloads, updates).
//! Deterministic for a given seed. [`samples_with`] can leave the bursts out and inject known
//! anomalies (an application's usage in one hour multiplied by a factor), which the alerts'
//! evaluation (`tests/anomaly_eval.rs`) must find.

use fastrand::Rng;

use crate::sample::{Destination, Direction, ProcessSeen, Provenance, Sample, SampleStats, Usage};

/// Applications of the synthetic history; the first five are browsers.
const APPS: usize = 50;
const BROWSERS: [&str; 5] = ["zen", "firefox", "Google Chrome", "Safari", "Arc"];
const HOSTNAMES: usize = 500;
const SITES: [&str; 10] = [
    "netflix.com",
    "youtube.com",
    "github.com",
    "wikipedia.org",
    "bbc.co.uk",
    "apple.com",
    "reddit.com",
    "spotify.com",
    "zoom.us",
    "icloud.com",
];

/// An injected anomaly: the application's bytes in the hour starting at `hour_ms` (a UTC hour)
/// are multiplied by `factor`.
#[derive(Debug, Clone, PartialEq)]
pub struct Anomaly {
    pub app: String,
    pub hour_ms: i64,
    pub factor: f64,
}

/// How the synthetic history is made beyond its seed.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Now and then one application's usage in a sample two hundred times its usual
    /// (downloads, updates): unlabelled anomalies.
    pub bursts: bool,
    pub anomalies: Vec<Anomaly>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            bursts: true,
            anomalies: Vec::new(),
        }
    }
}

/// The names the synthetic applications have, busiest first.
pub fn app_names() -> impl Iterator<Item = String> {
    (0..APPS).map(app_name)
}

/// Samples of `step_ms` each, ending at `end_ms` and covering `days` days.
pub fn samples(days: u32, end_ms: i64, step_ms: i64, seed: u64) -> impl Iterator<Item = Sample> {
    samples_with(days, end_ms, step_ms, seed, Options::default())
}

/// [`samples`] made as `options` says.
pub fn samples_with(
    days: u32,
    end_ms: i64,
    step_ms: i64,
    seed: u64,
    options: Options,
) -> impl Iterator<Item = Sample> {
    let count = i64::from(days) * 86_400_000 / step_ms.max(1);
    let mut rng = Rng::with_seed(seed);
    (0..count).map(move |index| {
        let start_ms = end_ms - (count - index) * step_ms;
        let mut sample = sample(&mut rng, start_ms, step_ms, options.bursts);
        inject(&mut sample, &options.anomalies);
        sample
    })
}

/// Multiplies the usage of the applications with an anomaly in the sample's hour.
fn inject(sample: &mut Sample, anomalies: &[Anomaly]) {
    let hour_ms = sample.start_ms - sample.start_ms.rem_euclid(3_600_000);
    anomalies
        .iter()
        .filter(|anomaly| anomaly.hour_ms == hour_ms)
        .for_each(|anomaly| {
            sample
                .usage
                .iter_mut()
                .filter(|usage| usage.app == anomaly.app)
                .for_each(|usage| {
                    usage.bytes = (usage.bytes as f64 * anomaly.factor) as u64;
                    usage.packets = (usage.packets as f64 * anomaly.factor) as u64;
                })
        });
}

fn sample(rng: &mut Rng, start_ms: i64, step_ms: i64, bursts: bool) -> Sample {
    let activity = activity(start_ms);
    let active = 3 + (activity * 12.0) as usize;
    let mut usage: Vec<Usage> = (0..active)
        .map(|_| {
            let app = rng.usize(0..APPS);
            let burst = if rng.u32(0..400) == 0 && bursts {
                200.0
            } else {
                1.0
            };
            let scale = app_weight(app) * activity * burst * step_ms as f64 / 1000.0;
            let received = (scale * rng.f64() * 40_000.0) as u64;
            Usage {
                app: app_name(app),
                destination: (app < BROWSERS.len()).then(|| destination(rng.usize(0..HOSTNAMES))),
                direction: Direction::Received,
                bytes: received,
                packets: received / 1200 + 1,
            }
        })
        .collect();
    let sent: Vec<Usage> = usage
        .iter()
        .map(|received| Usage {
            direction: Direction::Sent,
            bytes: received.bytes / (8 + rng.u64(0..8)),
            packets: received.packets / 2 + 1,
            ..received.clone()
        })
        .collect();
    usage.extend(sent);
    let processes = usage
        .iter()
        .map(|usage| ProcessSeen {
            pid: 1000 + (usage.app.len() as u32) * 7,
            app: usage.app.clone(),
            name: usage.app.chars().take(15).collect(),
            exe: Some(format!(
                "/Applications/{}.app/Contents/MacOS/{}",
                usage.app, usage.app
            )),
        })
        .collect();
    Sample {
        start_ms,
        end_ms: start_ms + step_ms,
        usage,
        processes,
        stats: SampleStats::default(),
    }
}

/// 0.05 at night to 1.0 in the evening, a third more at weekends.
fn activity(ms: i64) -> f64 {
    let hour = (ms.rem_euclid(86_400_000) / 3_600_000) as f64;
    let day = (ms.div_euclid(86_400_000) + 4).rem_euclid(7); // 0 = Monday
    let daily = 0.05 + 0.95 * (0.5 - 0.5 * ((hour - 3.0) / 24.0 * std::f64::consts::TAU).cos());
    if day >= 5 {
        daily * 1.33
    } else {
        daily
    }
}

/// Browsers and streaming apps move far more than background helpers.
fn app_weight(app: usize) -> f64 {
    1.0 / (1.0 + app as f64 * 0.6)
}

fn app_name(app: usize) -> String {
    BROWSERS
        .get(app)
        .map(|name| name.to_string())
        .unwrap_or_else(|| format!("app-{app:02}"))
}

fn destination(host: usize) -> Destination {
    let domain = SITES[host % SITES.len()];
    Destination {
        host: format!("h{}.{domain}", host / SITES.len()),
        domain: domain.to_string(),
        // Named hosts only: every source but "unresolved".
        provenance: Provenance::ALL[host % (Provenance::ALL.len() - 1)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_shaped() {
        let a: Vec<Sample> = samples(2, 1_800_000_000_000, 60_000, 7).collect();
        let b: Vec<Sample> = samples(2, 1_800_000_000_000, 60_000, 7).collect();
        assert_eq!(a, b);
        assert_eq!(a.len(), 2 * 24 * 60);
        assert_eq!(a.last().unwrap().end_ms, 1_800_000_000_000);
        let apps: std::collections::BTreeSet<&str> = a
            .iter()
            .flat_map(|s| s.usage.iter().map(|u| u.app.as_str()))
            .collect();
        assert!(apps.len() >= 40, "{}", apps.len());
        assert!(a
            .iter()
            .flat_map(|s| &s.usage)
            .any(|u| u.destination.is_some()));
        assert!(
            activity(0) < activity(14 * 3_600_000) / 4.0,
            "night is quieter"
        );
    }
}

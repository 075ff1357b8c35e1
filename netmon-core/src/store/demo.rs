//! Synthetic history: heavy, realistic-looking use generated deterministically from a seed.
//!
//! 50 applications (5 of them browsers, whose traffic is broken down by hostname), 500
//! registrable domains with a few hostnames each, a diurnal and weekly rhythm, and bursts
//! (downloads, updates, video) lasting minutes. Samples go through the same [`BatchWriter`]
//! as the daemon's. The last `fine_days` are sampled every `fine_step_seconds` (5 s, like the
//! daemon); older history, which only lives on in the hourly and daily tiers, is sampled more
//! coarsely so that months of it are written in seconds — the tiers' rows come out the same.

use jiff::tz::TimeZone;
use jiff::Timestamp;
use serde::Serialize;

use super::{BatchWriter, Result};
use crate::sample::{Destination, Direction, ProcessSeen, Sample, SampleStats, Usage};

/// Applications, most used first; the first five are browsers.
const APPS: [&str; 50] = [
    "Zen",
    "Firefox",
    "Google Chrome",
    "Safari",
    "Brave Browser",
    "Slack",
    "Spotify",
    "zoom.us",
    "Dropbox",
    "Mail",
    "Music",
    "Discord",
    "Microsoft Teams",
    "Steam",
    "Docker",
    "Code",
    "iCloud Drive",
    "Photos",
    "Signal",
    "Telegram",
    "WhatsApp",
    "Notion",
    "Obsidian",
    "Figma",
    "1Password",
    "Backblaze",
    "Transmit",
    "cargo",
    "git",
    "curl",
    "softwareupdated",
    "App Store",
    "Messages",
    "FaceTime",
    "TV",
    "Podcasts",
    "News",
    "Maps",
    "Weather",
    "Calendar",
    "OneDrive",
    "Google Drive",
    "VLC",
    "IINA",
    "Xcode",
    "Homebrew",
    "pip",
    "npm",
    "ssh",
    "unknown",
];
const BROWSERS: usize = 5;
const DOMAINS: usize = 500;
/// Sites a browser visits on one day, drawn from all the domains.
const DAILY_SITES: usize = 60;
const HOST_PREFIXES: [&str; 6] = ["www", "cdn", "api", "static", "media", "video"];
const SYLLABLES: [&str; 24] = [
    "ka", "lo", "mi", "ne", "ra", "su", "to", "vi", "ba", "de", "fo", "gu", "hi", "jo", "pe",
    "qua", "ri", "sa", "te", "ul", "ve", "wo", "xa", "zen",
];
const TLDS: [&str; 6] = ["com", "net", "org", "io", "co.uk", "de"];

/// What to generate.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Days of history ending at `now`.
    pub days: u32,
    pub now: Timestamp,
    pub seed: u64,
    /// The most recent days, sampled every `fine_step_seconds`.
    pub fine_days: u32,
    pub fine_step_seconds: i64,
    /// Sample length before the fine days.
    pub coarse_step_seconds: i64,
    /// Local time zone of the simulated user's rhythm.
    pub tz: TimeZone,
}

impl DemoOptions {
    /// `days` of history up to `now`: 5-second samples for the last 7 days, 1-minute samples
    /// before, in the system time zone.
    pub fn new(days: u32, now: Timestamp, seed: u64) -> Self {
        Self {
            days,
            now,
            seed,
            fine_days: 7,
            fine_step_seconds: 5,
            coarse_step_seconds: 60,
            tz: TimeZone::system(),
        }
    }
}

/// How far [`fill`] has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Progress {
    pub samples: u64,
    /// Simulated seconds generated so far and in all.
    pub done_seconds: i64,
    pub total_seconds: i64,
}

/// What [`fill`] wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DemoReport {
    pub samples: u64,
    pub bytes: u64,
}

/// Generates the history described by `options` and writes it through `writer` (flushing
/// at the end); `progress` is called after every simulated hour.
pub fn fill(
    writer: &mut BatchWriter,
    options: &DemoOptions,
    mut progress: impl FnMut(Progress),
) -> Result<DemoReport> {
    let total_seconds = i64::from(options.days) * 86_400;
    let start = options.now.as_second() - total_seconds;
    let mut report = DemoReport::default();
    for sample in samples(options) {
        let hour_done = sample.end_ms.div_euclid(1000).rem_euclid(3600) < sample.seconds() as i64;
        report.samples += 1;
        report.bytes += sample.usage.iter().map(|usage| usage.bytes).sum::<u64>();
        let done_seconds = sample.end_ms.div_euclid(1000) - start;
        writer.push(sample)?;
        if hour_done {
            progress(Progress {
                samples: report.samples,
                done_seconds,
                total_seconds,
            });
        }
    }
    writer.flush()?;
    Ok(report)
}

/// The samples of `options`, oldest first.
pub fn samples(options: &DemoOptions) -> impl Iterator<Item = Sample> + '_ {
    let world = World::new(options.seed);
    let end = options.now.as_second();
    let fine_from = end - i64::from(options.fine_days) * 86_400;
    let start = end - i64::from(options.days) * 86_400;
    let mut state = State::new(options.seed);
    let step = move |t: i64| {
        if t >= fine_from {
            options.fine_step_seconds.max(1)
        } else {
            options.coarse_step_seconds.max(1)
        }
    };
    std::iter::successors(Some(start), move |&t| Some(t + step(t)))
        .take_while(move |&t| t < end)
        .map(move |t| state.sample(&world, options, t, step(t).min(end - t)))
}

/// SplitMix64: small, fast and the same on every platform.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// Index in `0..n` with Zipf-like weights (rank 0 most likely).
    fn zipf(&mut self, n: usize) -> usize {
        let u = self.unit();
        (((n as f64 + 1.0).powf(u) - 1.0) as usize).min(n - 1)
    }
}

/// The fixed cast: applications with their usual rates, domains with their hostnames.
struct World {
    /// Bytes per second an application moves when active (received; sent is a fraction).
    rates: Vec<f64>,
    upload_share: Vec<f64>,
    hosts: Vec<Vec<Destination>>,
}

impl World {
    fn new(seed: u64) -> Self {
        let mut rng = Rng(seed ^ 0x5EED);
        let rates = (0..APPS.len())
            .map(|_| 2_000.0 * 100f64.powf(rng.unit()))
            .collect();
        let upload_share = (0..APPS.len()).map(|_| 0.05 + 0.4 * rng.unit()).collect();
        let hosts = (0..DOMAINS)
            .map(|index| domain_hosts(&mut rng, index))
            .collect();
        Self {
            rates,
            upload_share,
            hosts,
        }
    }
}

fn domain_hosts(rng: &mut Rng, index: usize) -> Vec<Destination> {
    let name: String = (0..2 + rng.below(2))
        .map(|_| SYLLABLES[rng.below(SYLLABLES.len())])
        .collect();
    let domain = format!("{name}{index}.{}", TLDS[rng.below(TLDS.len())]);
    (0..1 + rng.below(4))
        .map(|prefix| Destination {
            host: format!("{}.{domain}", HOST_PREFIXES[prefix]),
            domain: domain.clone(),
        })
        .collect()
}

/// What changes from sample to sample: the random stream and the running bursts.
struct State {
    rng: Rng,
    /// Per application: bytes per second of a running burst and when it ends.
    bursts: Vec<Option<(f64, i64)>>,
}

impl State {
    fn new(seed: u64) -> Self {
        Self {
            rng: Rng(seed),
            bursts: vec![None; APPS.len()],
        }
    }

    fn sample(&mut self, world: &World, options: &DemoOptions, start: i64, seconds: i64) -> Sample {
        let local = Timestamp::from_second(start)
            .map(|ts| ts.to_zoned_datetime(options.tz.clone()))
            .ok();
        let activity = local.map_or(0.5, |local| {
            rhythm(local.hour(), local.weekday().to_monday_zero_offset())
        });
        let active = self.active_apps(world, activity, start, seconds);
        let day = start.div_euclid(86_400) as u64;
        let sites = daily_sites(options.seed, day);
        let usage = active
            .iter()
            .flat_map(|&(app, rate)| self.usage_of(world, &sites, app, rate * seconds as f64))
            .collect();
        let processes = active
            .iter()
            .map(|&(app, _)| process_of(app, day, options.seed))
            .collect();
        Sample {
            start_ms: start * 1000,
            end_ms: (start + seconds) * 1000,
            usage,
            processes,
            stats: SampleStats::default(),
        }
    }

    /// Applications active in this sample with their received bytes per second.
    fn active_apps(
        &mut self,
        world: &World,
        activity: f64,
        start: i64,
        seconds: i64,
    ) -> Vec<(usize, f64)> {
        self.start_bursts(activity, start, seconds);
        let count = (activity * 10.0 * self.rng.unit()).round() as usize;
        let chosen: Vec<usize> = (0..count).map(|_| self.rng.zipf(APPS.len())).collect();
        let mut active: Vec<(usize, f64)> = self
            .running_bursts(start)
            .into_iter()
            .chain(
                chosen
                    .into_iter()
                    .map(|app| (app, world.rates[app] * activity)),
            )
            .collect();
        active.sort_by_key(|(app, _)| *app);
        active.dedup_by_key(|(app, _)| *app);
        active
    }

    fn start_bursts(&mut self, activity: f64, start: i64, seconds: i64) {
        let chance = 0.00003 * activity * seconds as f64;
        if self.rng.unit() < chance {
            let app = self.rng.zipf(APPS.len());
            let rate = 1_000_000.0 + 15_000_000.0 * self.rng.unit();
            let length = 60 + self.rng.below(20 * 60) as i64;
            self.bursts[app] = Some((rate, start + length));
        }
    }

    /// Applications in a burst at `start`, with the burst's rate; ended bursts are dropped.
    fn running_bursts(&mut self, start: i64) -> Vec<(usize, f64)> {
        self.bursts
            .iter_mut()
            .for_each(|burst| *burst = burst.filter(|(_, until)| *until > start));
        self.bursts
            .iter()
            .enumerate()
            .filter_map(|(app, burst)| burst.map(|(rate, _)| (app, rate)))
            .collect()
    }

    /// Usage rows of one application receiving about `received` bytes, split over
    /// destinations for browsers.
    fn usage_of(
        &mut self,
        world: &World,
        sites: &[usize],
        app: usize,
        received: f64,
    ) -> Vec<Usage> {
        let received = received * (0.5 + self.rng.unit());
        let sent = received * world.upload_share[app];
        let destinations: Vec<Option<Destination>> = if app < BROWSERS {
            (0..1 + self.rng.below(4))
                .map(|_| {
                    let hosts = &world.hosts[sites[self.rng.zipf(sites.len())]];
                    Some(hosts[self.rng.below(hosts.len())].clone())
                })
                .collect()
        } else {
            vec![None]
        };
        let share = 1.0 / destinations.len() as f64;
        destinations
            .into_iter()
            .flat_map(|destination| {
                [(Direction::Sent, sent), (Direction::Received, received)].map(
                    |(direction, bytes)| {
                        let bytes = (bytes * share) as u64 + 1;
                        Usage {
                            app: APPS[app].to_string(),
                            destination: destination.clone(),
                            direction,
                            bytes,
                            packets: bytes / 1200 + 1,
                        }
                    },
                )
            })
            .collect()
    }
}

/// Relative activity by local hour and weekday (Monday = 0): quiet nights, busy working
/// hours on weekdays, long evenings at weekends.
fn rhythm(hour: i8, weekday: i8) -> f64 {
    const WEEKDAY: [f64; 24] = [
        0.1, 0.05, 0.05, 0.05, 0.05, 0.1, 0.2, 0.4, 0.7, 0.9, 1.0, 1.0, 0.8, 0.9, 1.0, 1.0, 0.9,
        0.8, 0.7, 0.8, 0.9, 0.9, 0.6, 0.3,
    ];
    const WEEKEND: [f64; 24] = [
        0.3, 0.2, 0.1, 0.05, 0.05, 0.05, 0.05, 0.1, 0.2, 0.4, 0.6, 0.7, 0.7, 0.7, 0.6, 0.6, 0.7,
        0.8, 0.9, 1.0, 1.0, 1.0, 0.9, 0.6,
    ];
    let hours = if weekday >= 5 { &WEEKEND } else { &WEEKDAY };
    hours[usize::try_from(hour).unwrap_or(0) % 24]
}

/// The domains browsed on `day` (days since the epoch), most visited first.
fn daily_sites(seed: u64, day: u64) -> Vec<usize> {
    let mut rng = Rng(seed ^ day.wrapping_mul(0x9E37));
    (0..DAILY_SITES).map(|_| rng.zipf(DOMAINS)).collect()
}

fn process_of(app: usize, day: u64, seed: u64) -> ProcessSeen {
    let name = APPS[app].to_string();
    let pid = 300 + (Rng(seed ^ day.wrapping_mul(131) ^ app as u64).next() % 90_000) as u32;
    ProcessSeen {
        pid,
        app: name.clone(),
        exe: Some(format!("/Applications/{name}.app/Contents/MacOS/{name}")),
        name,
    }
}

//! Read-only answers for the dashboard, CLI and menubar: plain serialisable structs.
//!
//! Every query takes explicit instants (`now`, a [`TimeRange`]) so the same inputs give the
//! same answer. Ranges are read through [`time::plan`](super::time): whole local days from the
//! daily tier, whole hours from the hourly tier, the ragged ends from raw samples.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use jiff::{Timestamp, ToSpan};
use rusqlite::types::Value;
use serde::Serialize;

use super::time::{self, local_date, local_label, Bucket, Level, Tier, TimeRange};
use super::{Result, Store};

/// Bytes in both directions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Traffic {
    pub sent: u64,
    pub received: u64,
    pub total: u64,
}

impl Traffic {
    /// Traffic from sent and received byte counts.
    pub fn new(sent: u64, received: u64) -> Self {
        Self {
            sent,
            received,
            total: sent.saturating_add(received),
        }
    }

    fn add(self, other: Self) -> Self {
        Self::new(
            self.sent.saturating_add(other.sent),
            self.received.saturating_add(other.received),
        )
    }
}

/// Which rows a query counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    All,
    /// One application (grouped name).
    App(String),
    /// Every hostname under one registrable domain.
    Domain(String),
    /// One hostname.
    Host(String),
}

/// Usage today, this week (from Monday) and this month, up to `now`, in local time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Totals {
    pub today: Traffic,
    pub this_week: Traffic,
    pub this_month: Traffic,
}

/// One bucket of a timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Point {
    /// Start of the bucket, milliseconds since the Unix epoch.
    pub start_ms: i64,
    /// Start of the bucket in local time (`2025-03-09T03:00:00-04:00`).
    pub local: String,
    #[serde(flatten)]
    pub traffic: Traffic,
}

/// Usage over a range in buckets sized for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Timeline {
    pub bucket: Bucket,
    pub points: Vec<Point>,
}

/// How [`Store::top_apps`] orders applications.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AppSort {
    #[default]
    Total,
    Sent,
    Received,
    Name,
}

/// An application's usage over a range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppUsage {
    pub name: String,
    #[serde(flatten)]
    pub traffic: Traffic,
}

/// A process an application ran as (one per name and executable), with the PIDs seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProcessInfo {
    pub name: String,
    pub exe: Option<String>,
    /// PIDs seen, most recent first (at most [`MAX_PIDS`]).
    pub pids: Vec<u32>,
    pub pid_count: usize,
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
}

/// Most weeks [`Store::weekly_trend`] goes back.
pub const MAX_WEEKS: u32 = 5200;

/// Most PIDs listed per process.
pub const MAX_PIDS: usize = 20;

/// One application's page: usage, timeline and processes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppDetail {
    pub name: String,
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
    #[serde(flatten)]
    pub traffic: Traffic,
    pub timeline: Timeline,
    pub processes: Vec<ProcessInfo>,
}

/// A registrable domain's usage over a range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DomainUsage {
    pub domain: String,
    #[serde(flatten)]
    pub traffic: Traffic,
    /// Hostnames under the domain that carried traffic in the range.
    pub hostnames: usize,
}

/// A hostname's usage over a range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostUsage {
    pub hostname: String,
    #[serde(flatten)]
    pub traffic: Traffic,
}

/// Bytes (both directions) by local weekday and hour.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Heatmap {
    /// `cells[weekday][hour]`, Monday = 0.
    pub cells: Vec<Vec<u64>>,
}

/// Two months side by side.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MonthComparison {
    /// This month up to now.
    pub this_month: Point,
    /// The whole previous month.
    pub previous_month: Point,
    /// The previous month up to the same elapsed time.
    pub previous_month_to_date: Traffic,
    /// Change of this month against the previous one to date, in percent.
    pub change_percent: Option<f64>,
}

/// Everything the Historical page shows for a chosen range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RangeSummary {
    pub range: TimeRange,
    #[serde(flatten)]
    pub traffic: Traffic,
    pub timeline: Timeline,
    pub top_apps: Vec<AppUsage>,
    pub top_domains: Vec<DomainUsage>,
}

/// The rate of the newest sample.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Rate {
    pub start_ms: i64,
    pub end_ms: i64,
    pub sent_per_second: f64,
    pub received_per_second: f64,
}

/// What rows are summed by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Group {
    Total,
    Ts,
    App,
    Host,
}

impl Group {
    fn column(self) -> &'static str {
        match self {
            Group::Total => "0",
            Group::Ts => "ts",
            Group::App => "app_id",
            Group::Host => "domain_id",
        }
    }
}

impl Group {
    fn clause(self) -> String {
        match self {
            Group::Total => String::new(),
            other => format!("GROUP BY {}", other.column()),
        }
    }
}

impl Filter {
    fn sql(&self) -> &'static str {
        match self {
            Filter::All => "",
            Filter::App(_) => "AND app_id = (SELECT id FROM applications WHERE name = ?3)",
            Filter::Domain(_) => "AND domain_id IN (SELECT id FROM domains WHERE domain = ?3)",
            Filter::Host(_) => "AND domain_id = (SELECT id FROM domains WHERE hostname = ?3)",
        }
    }

    fn needs_hosts(&self) -> bool {
        matches!(self, Filter::Domain(_) | Filter::Host(_))
    }

    fn key(&self) -> Option<&str> {
        match self {
            Filter::All => None,
            Filter::App(key) | Filter::Domain(key) | Filter::Host(key) => Some(key),
        }
    }
}

impl Store {
    /// Bytes of rows starting in `range`, summed by `group`, reading tiers no coarser than
    /// `coarsest`.
    fn sums(
        &self,
        range: &TimeRange,
        coarsest: Tier,
        group: Group,
        filter: &Filter,
    ) -> Result<HashMap<i64, Traffic>> {
        let segments = time::plan(range, coarsest, self.horizons()?, &self.tz)?;
        segments
            .iter()
            .try_fold(HashMap::new(), |mut sums, segment| {
                self.segment_sums(segment, group, filter)?
                    .into_iter()
                    .for_each(|(key, traffic)| {
                        let sum = sums.entry(key).or_insert_with(Traffic::default);
                        *sum = sum.add(traffic);
                    });
                Ok(sums)
            })
    }

    fn segment_sums(
        &self,
        segment: &time::Segment,
        group: Group,
        filter: &Filter,
    ) -> Result<Vec<(i64, Traffic)>> {
        let level = if group == Group::Host || filter.needs_hosts() {
            Level::Hosts
        } else {
            Level::Apps
        };
        let hosts_only = if level == Level::Hosts {
            "AND domain_id <> 0"
        } else {
            ""
        };
        let sql = format!(
            "SELECT {key}, ifnull(SUM(bytes_sent), 0), ifnull(SUM(bytes_received), 0)
             FROM {table}
             WHERE ts >= ?1 AND ts < ?2 {hosts_only} {filter}
             {group_by}",
            key = group.column(),
            group_by = group.clause(),
            table = segment.tier.table(level),
            filter = filter.sql(),
        );
        let mut values = vec![Value::Integer(segment.start), Value::Integer(segment.end)];
        values.extend(filter.key().map(|key| Value::Text(key.to_string())));
        let mut statement = self.conn.prepare_cached(&sql)?;
        let rows = statement.query_map(rusqlite::params_from_iter(values), |row| {
            let sent: i64 = row.get(1)?;
            let received: i64 = row.get(2)?;
            Ok((
                row.get(0)?,
                Traffic::new(unsigned(sent), unsigned(received)),
            ))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn total(&self, range: &TimeRange, filter: &Filter) -> Result<Traffic> {
        let sums = self.sums(range, Tier::Daily, Group::Total, filter)?;
        Ok(sums.into_values().fold(Traffic::default(), Traffic::add))
    }

    /// Usage today, this week and this month, up to `now` (local time).
    pub fn totals(&self, now: Timestamp) -> Result<Totals> {
        let since = |bucket: Bucket| -> Result<Traffic> {
            let start = bucket.start_of(now.as_second(), &self.tz)?;
            self.total(&until_now(start, now)?, &Filter::All)
        };
        Ok(Totals {
            today: since(Bucket::Day)?,
            this_week: since(Bucket::Week)?,
            this_month: since(Bucket::Month)?,
        })
    }

    /// Usage over `range` in buckets chosen from its length ([`Bucket::for_span`]).
    pub fn timeline(&self, range: &TimeRange, filter: &Filter) -> Result<Timeline> {
        self.timeline_in(range, Bucket::for_span(range.seconds()), filter)
    }

    /// Usage over `range` in buckets of `bucket` (local time), empty buckets included.
    pub fn timeline_in(
        &self,
        range: &TimeRange,
        bucket: Bucket,
        filter: &Filter,
    ) -> Result<Timeline> {
        let sums = self.sums(range, bucket.coarsest_tier(), Group::Ts, filter)?;
        let mut buckets =
            sums.into_iter()
                .try_fold(BTreeMap::new(), |mut buckets, (ts, traffic)| {
                    let start = bucket.start_of(ts, &self.tz)?;
                    let sum: &mut Traffic = buckets.entry(start).or_default();
                    *sum = sum.add(traffic);
                    Ok::<_, super::StoreError>(buckets)
                })?;
        let starts: BTreeSet<i64> = bucket
            .starts(range, &self.tz)?
            .into_iter()
            .chain(buckets.keys().copied())
            .collect();
        let points = starts
            .into_iter()
            .map(|start| self.point(start, buckets.remove(&start).unwrap_or_default()))
            .collect::<Result<_>>()?;
        Ok(Timeline { bucket, points })
    }

    fn point(&self, start: i64, traffic: Traffic) -> Result<Point> {
        Ok(Point {
            start_ms: start.saturating_mul(1000),
            local: local_label(start, &self.tz)?,
            traffic,
        })
    }

    /// The `limit` applications with the most traffic in `range`, ordered by `sort`
    /// (descending bytes, or ascending name).
    pub fn top_apps(
        &self,
        range: &TimeRange,
        limit: usize,
        sort: AppSort,
    ) -> Result<Vec<AppUsage>> {
        self.apps_of(range, &Filter::All, limit, sort)
    }

    /// Applications that used `domain` (any of its hostnames) in `range`, most traffic first.
    pub fn domain_apps(
        &self,
        domain: &str,
        range: &TimeRange,
        limit: usize,
    ) -> Result<Vec<AppUsage>> {
        self.apps_of(
            range,
            &Filter::Domain(domain.to_string()),
            limit,
            AppSort::Total,
        )
    }

    fn apps_of(
        &self,
        range: &TimeRange,
        filter: &Filter,
        limit: usize,
        sort: AppSort,
    ) -> Result<Vec<AppUsage>> {
        let names = self.app_names()?;
        let mut apps: Vec<AppUsage> = self
            .sums(range, Tier::Daily, Group::App, filter)?
            .into_iter()
            .filter_map(|(id, traffic)| {
                let name = names.get(&id)?.clone();
                Some(AppUsage { name, traffic })
            })
            .collect();
        apps.sort_by(|a, b| match sort {
            AppSort::Name => a.name.cmp(&b.name),
            AppSort::Total => by_bytes(b.traffic.total, a.traffic.total, a, b),
            AppSort::Sent => by_bytes(b.traffic.sent, a.traffic.sent, a, b),
            AppSort::Received => by_bytes(b.traffic.received, a.traffic.received, a, b),
        });
        apps.truncate(limit);
        Ok(apps)
    }

    fn app_names(&self) -> Result<HashMap<i64, String>> {
        let mut statement = self
            .conn
            .prepare_cached("SELECT id, name FROM applications")?;
        let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Hostname and registrable domain of every hostname id.
    fn hosts(&self) -> Result<HashMap<i64, (String, String)>> {
        let mut statement = self
            .conn
            .prepare_cached("SELECT id, hostname, domain FROM domains")?;
        let rows = statement.query_map([], |row| Ok((row.get(0)?, (row.get(1)?, row.get(2)?))))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// One application's usage, timeline and processes over `range`; `None` when the
    /// application was never seen.
    pub fn app_detail(&self, name: &str, range: &TimeRange) -> Result<Option<AppDetail>> {
        let app = self
            .conn
            .prepare_cached("SELECT id, first_seen, last_seen FROM applications WHERE name = ?1")?
            .query_row([name], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, i64>(1)?,
                    row.get::<_, i64>(2)?,
                ))
            });
        let (id, first_seen, last_seen) = match app {
            Ok(app) => app,
            Err(rusqlite::Error::QueryReturnedNoRows) => return Ok(None),
            Err(error) => return Err(error.into()),
        };
        let filter = Filter::App(name.to_string());
        Ok(Some(AppDetail {
            name: name.to_string(),
            first_seen_ms: first_seen.saturating_mul(1000),
            last_seen_ms: last_seen.saturating_mul(1000),
            traffic: self.total(range, &filter)?,
            timeline: self.timeline(range, &filter)?,
            processes: self.processes(id)?,
        }))
    }

    fn processes(&self, app_id: i64) -> Result<Vec<ProcessInfo>> {
        let mut statement = self.conn.prepare_cached(
            "SELECT name, exe, pid, first_seen, last_seen FROM processes
             WHERE app_id = ?1 ORDER BY name, exe, last_seen DESC, pid",
        )?;
        let rows = statement.query_map([app_id], |row| {
            let key: ProcessKey = (row.get(0)?, row.get(1)?);
            let seen = PidSeen {
                pid: row.get(2)?,
                first: row.get(3)?,
                last: row.get(4)?,
            };
            Ok((key, seen))
        })?;
        let grouped = rows
            .collect::<rusqlite::Result<Vec<_>>>()?
            .into_iter()
            .fold(
                BTreeMap::<ProcessKey, Vec<PidSeen>>::new(),
                |mut groups, (key, seen)| {
                    groups.entry(key).or_default().push(seen);
                    groups
                },
            );
        Ok(grouped
            .into_iter()
            .map(|(key, seen)| process_info(key, &seen))
            .collect())
    }

    /// The `limit` registrable domains with the most traffic in `range`.
    pub fn top_domains(&self, range: &TimeRange, limit: usize) -> Result<Vec<DomainUsage>> {
        let hosts = self.hosts()?;
        let by_domain = self
            .sums(range, Tier::Daily, Group::Host, &Filter::All)?
            .into_iter()
            .filter_map(|(id, traffic)| Some((hosts.get(&id)?.1.clone(), traffic)))
            .fold(
                HashMap::<String, (Traffic, usize)>::new(),
                |mut domains, (domain, traffic)| {
                    let entry = domains.entry(domain).or_default();
                    *entry = (entry.0.add(traffic), entry.1 + 1);
                    domains
                },
            );
        let mut domains: Vec<DomainUsage> = by_domain
            .into_iter()
            .map(|(domain, (traffic, hostnames))| DomainUsage {
                domain,
                traffic,
                hostnames,
            })
            .collect();
        domains.sort_by_key(|usage| (Reverse(usage.traffic.total), usage.domain.clone()));
        domains.truncate(limit);
        Ok(domains)
    }

    /// Hostnames under `domain` by traffic in `range` (the subdomain rollup).
    pub fn domain_hosts(&self, domain: &str, range: &TimeRange) -> Result<Vec<HostUsage>> {
        let hosts = self.hosts()?;
        let filter = Filter::Domain(domain.to_string());
        let mut usage: Vec<HostUsage> = self
            .sums(range, Tier::Daily, Group::Host, &filter)?
            .into_iter()
            .filter_map(|(id, traffic)| {
                let hostname = hosts.get(&id)?.0.clone();
                Some(HostUsage { hostname, traffic })
            })
            .collect();
        usage.sort_by_key(|host| (Reverse(host.traffic.total), host.hostname.clone()));
        Ok(usage)
    }

    /// Bytes by local weekday and hour over `range` (read at hour grain).
    pub fn heatmap(&self, range: &TimeRange) -> Result<Heatmap> {
        let sums = self.sums(range, Tier::Hourly, Group::Ts, &Filter::All)?;
        let mut cells = vec![vec![0u64; 24]; 7];
        for (ts, traffic) in sums {
            let local = Timestamp::from_second(ts)?.to_zoned_datetime(self.tz.clone());
            let weekday = usize::try_from(local.weekday().to_monday_zero_offset()).unwrap_or(0);
            let hour = usize::try_from(local.hour()).unwrap_or(0);
            cells[weekday][hour] = cells[weekday][hour].saturating_add(traffic.total);
        }
        Ok(Heatmap { cells })
    }

    /// Usage of the last `weeks` ISO weeks (this one included, up to `now`), oldest first.
    pub fn weekly_trend(&self, weeks: u32, now: Timestamp) -> Result<Vec<Point>> {
        let this_week = Bucket::Week.start_of(now.as_second(), &self.tz)?;
        let back = i64::from(weeks.clamp(1, MAX_WEEKS) - 1);
        let first = local_date(this_week, &self.tz)?.checked_sub(back.weeks())?;
        let range = until_now(time::date_start(first, &self.tz)?, now)?;
        Ok(self.timeline_in(&range, Bucket::Week, &Filter::All)?.points)
    }

    /// This month so far against the previous month, whole and to the same elapsed time.
    pub fn month_comparison(&self, now: Timestamp) -> Result<MonthComparison> {
        let this_start = Bucket::Month.start_of(now.as_second(), &self.tz)?;
        let previous_start = Bucket::Month.start_of(this_start - 1, &self.tz)?;
        let elapsed = now.as_second() - this_start;
        let this_month = self.total(&until_now(this_start, now)?, &Filter::All)?;
        let previous = self.total(&seconds_range(previous_start, this_start)?, &Filter::All)?;
        let to_date_end = (previous_start + elapsed + 1).min(this_start);
        let previous_to_date =
            self.total(&seconds_range(previous_start, to_date_end)?, &Filter::All)?;
        let change_percent = (previous_to_date.total > 0).then(|| {
            (this_month.total as f64 - previous_to_date.total as f64) * 100.0
                / previous_to_date.total as f64
        });
        Ok(MonthComparison {
            this_month: self.point(this_start, this_month)?,
            previous_month: self.point(previous_start, previous)?,
            previous_month_to_date: previous_to_date,
            change_percent,
        })
    }

    /// Total, timeline, top 10 applications and top 10 domains of any range.
    pub fn range_summary(&self, range: &TimeRange) -> Result<RangeSummary> {
        Ok(RangeSummary {
            range: *range,
            traffic: self.total(range, &Filter::All)?,
            timeline: self.timeline(range, &Filter::All)?,
            top_apps: self.top_apps(range, 10, AppSort::Total)?,
            top_domains: self.top_domains(range, 10)?,
        })
    }

    /// Bytes per second of the newest sample written; `None` before the first.
    pub fn current_rate(&self) -> Result<Option<Rate>> {
        let newest = self
            .conn
            .prepare_cached(
                "SELECT start_ms, end_ms, bytes_sent, bytes_received FROM sample_windows
             ORDER BY start_ms DESC LIMIT 1",
            )?
            .query_row([], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, i64>(1)?,
                    row.get::<_, i64>(2)?,
                    row.get::<_, i64>(3)?,
                ))
            });
        let (start_ms, end_ms, sent, received) = match newest {
            Ok(row) => row,
            Err(rusqlite::Error::QueryReturnedNoRows) => return Ok(None),
            Err(error) => return Err(error.into()),
        };
        let seconds = (end_ms - start_ms).max(1) as f64 / 1000.0;
        Ok(Some(Rate {
            start_ms,
            end_ms,
            sent_per_second: sent as f64 / seconds,
            received_per_second: received as f64 / seconds,
        }))
    }
}

fn unsigned(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

fn by_bytes(first: u64, second: u64, a: &AppUsage, b: &AppUsage) -> std::cmp::Ordering {
    first.cmp(&second).then_with(|| a.name.cmp(&b.name))
}

/// From `start` (Unix seconds) up to and including the second of `now`.
fn until_now(start: i64, now: Timestamp) -> Result<TimeRange> {
    seconds_range(start, (now.as_second() + 1).max(start + 1))
}

fn seconds_range(start: i64, end: i64) -> Result<TimeRange> {
    TimeRange::new(Timestamp::from_second(start)?, Timestamp::from_second(end)?)
}

/// A process's name and executable path (empty when unknown).
type ProcessKey = (String, String);

/// One PID of a process and when it was first and last seen.
struct PidSeen {
    pid: u32,
    first: i64,
    last: i64,
}

/// A process from its PIDs, most recent first.
fn process_info((name, exe): ProcessKey, seen: &[PidSeen]) -> ProcessInfo {
    let first_seen = seen.iter().map(|pid| pid.first).min().unwrap_or(0);
    let last_seen = seen.iter().map(|pid| pid.last).max().unwrap_or(0);
    ProcessInfo {
        name,
        exe: Some(exe).filter(|exe| !exe.is_empty()),
        pid_count: seen.len(),
        pids: seen.iter().take(MAX_PIDS).map(|pid| pid.pid).collect(),
        first_seen_ms: first_seen.saturating_mul(1000),
        last_seen_ms: last_seen.saturating_mul(1000),
    }
}

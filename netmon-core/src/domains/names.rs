//! What each remote address is called, as learned from DNS answers and from the browser
//! extension's reports, with expiry and a bound on memory.
//!
//! Policy (docs/domains.md repeats it):
//! - DNS answers are kept per address as a short history ([`AnswerHistory`]): a flow is named
//!   after the answer current when it began ([`NameMap::dns_at`]), not the newest one, or after
//!   the first answer given within `race_grace` (3 s) after its first packet. An answer counts
//!   for `max(ttl, min_keep) + grace` after its latest repeat, TTL capped at `max_ttl`:
//!   connections routinely outlive the TTL, and clients and OS caches serve answers past it.
//!   Defaults: `min_keep` 5 min, `grace` 10 min, `max_ttl` 1 day.
//! - An extension report is kept for `extension_keep` (default 10 min) after the last report;
//!   each report (hostname, address, bytes) is also queued for the tracker, which splits an
//!   address's unnamed browser bytes between the hostnames reported on it
//!   ([`NameMap::take_reports`]; at most `capacity` queued, newer ones dropped).
//! - Each source holds at most `capacity` addresses (default 4096; the DNS history also at most
//!   32 names per address and 16384 in all); when full, the address learned least recently is
//!   dropped (LRU over writes; lookups do not refresh).
//! - For the current name of an address ([`NameMap::lookup`], used for connections reported
//!   without packets), an extension report beats a DNS answer.
//!
//! Time is passed in (`now`), never read here, so tests are deterministic.
//!
//! [`HostnameMap`] is the shared handle: the API teaches it the extension's reports, the capture
//! teaches it DNS answers, and the tracker asks it for the names of flows that named no server.

use std::net::IpAddr;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use lru::LruCache;

use super::dns::DnsAnswer;
use super::history::{AnswerHistory, HistoryLimits};
use super::rollup;

/// Where the current name of an address came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NameSource {
    /// The browser extension's report of a request's hostname and remote address.
    Extension,
    /// A DNS answer for the address.
    Dns,
}

/// A hostname and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownName {
    /// Normalised hostname (lower case, no trailing dot).
    pub host: Arc<str>,
    pub source: NameSource,
}

/// The browser extension's report that a hostname was reached at an address, with the bytes
/// the browser counted for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostReport {
    pub ip: IpAddr,
    pub host: Arc<str>,
    pub bytes: u64,
}

/// Lifetimes and bounds of a [`NameMap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NamePolicy {
    /// Most addresses kept per source.
    pub capacity: NonZeroUsize,
    /// Shortest time a DNS answer is kept, however small its TTL.
    pub min_keep: Duration,
    /// Time added to a DNS answer's lifetime for connections that outlive it.
    pub grace: Duration,
    /// Largest TTL believed.
    pub max_ttl: Duration,
    /// How long an extension report is kept after it was last made.
    pub extension_keep: Duration,
    /// How long after a flow's first packet a first DNS answer for its address still names it.
    pub race_grace: Duration,
}

impl Default for NamePolicy {
    fn default() -> Self {
        Self {
            capacity: NonZeroUsize::new(4096).unwrap_or(NonZeroUsize::MIN),
            min_keep: Duration::from_secs(5 * 60),
            grace: Duration::from_secs(10 * 60),
            max_ttl: Duration::from_secs(24 * 60 * 60),
            extension_keep: Duration::from_secs(10 * 60),
            race_grace: Duration::from_secs(3),
        }
    }
}

impl NamePolicy {
    /// How long a DNS answer with `ttl` seconds is kept.
    pub fn dns_keep(&self, ttl: u32) -> Duration {
        let ttl = Duration::from_secs(u64::from(ttl)).min(self.max_ttl);
        ttl.max(self.min_keep).saturating_add(self.grace)
    }
}

#[derive(Debug, Clone)]
struct Entry {
    host: Arc<str>,
    learned: Instant,
    keep: Duration,
}

impl Entry {
    fn is_live(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.learned) <= self.keep
    }
}

/// The newest extension report per address: bounded, expiring.
#[derive(Debug)]
struct Table {
    entries: LruCache<IpAddr, Entry>,
}

impl Table {
    fn new(capacity: NonZeroUsize) -> Self {
        Self {
            entries: LruCache::new(capacity),
        }
    }

    fn insert(&mut self, ip: IpAddr, entry: Entry, now: Instant) {
        self.drop_expired_oldest(now);
        self.entries.put(ip.to_canonical(), entry);
    }

    fn get(&self, ip: IpAddr, now: Instant) -> Option<Arc<str>> {
        self.entries
            .peek(&ip.to_canonical())
            .filter(|entry| entry.is_live(now))
            .map(|entry| Arc::clone(&entry.host))
    }

    /// Drops expired entries from the least recently written end, stopping at a live one.
    fn drop_expired_oldest(&mut self, now: Instant) {
        while self
            .entries
            .peek_lru()
            .is_some_and(|(_, entry)| !entry.is_live(now))
        {
            self.entries.pop_lru();
        }
    }

    fn purge(&mut self, now: Instant) {
        let expired: Vec<IpAddr> = self
            .entries
            .iter()
            .filter(|(_, entry)| !entry.is_live(now))
            .map(|(ip, _)| *ip)
            .collect();
        expired.iter().for_each(|ip| {
            self.entries.pop(ip);
        });
    }
}

/// Remote address → hostname, from DNS answers and extension reports (see the module policy).
#[derive(Debug)]
pub struct NameMap {
    policy: NamePolicy,
    dns: AnswerHistory,
    extension: Table,
    /// Extension reports not yet taken by the tracker.
    reports: Vec<HostReport>,
}

impl Default for NameMap {
    fn default() -> Self {
        Self::new(NamePolicy::default())
    }
}

impl NameMap {
    /// An empty map with `policy`.
    pub fn new(policy: NamePolicy) -> Self {
        let limits = HistoryLimits {
            addresses: policy.capacity,
            ..HistoryLimits::default()
        };
        Self {
            policy,
            dns: AnswerHistory::new(limits),
            extension: Table::new(policy.capacity),
            reports: Vec::new(),
        }
    }

    /// The policy in force.
    pub fn policy(&self) -> &NamePolicy {
        &self.policy
    }

    /// Records the addresses of a DNS response (see [`super::dns::parse_response`]).
    pub fn learn_dns<'a>(
        &mut self,
        answers: impl IntoIterator<Item = &'a DnsAnswer>,
        now: Instant,
    ) {
        for answer in answers {
            let keep = self.policy.dns_keep(answer.ttl);
            self.dns.learn(answer.ip, &answer.host, keep, now);
        }
    }

    /// Records the browser extension's report that `host` was reached at `ip`, where the
    /// browser counted `bytes`. Returns false, recording nothing, when `host` is not a
    /// plausible hostname.
    pub fn learn_from_extension(
        &mut self,
        host: &str,
        ip: IpAddr,
        bytes: u64,
        now: Instant,
    ) -> bool {
        let Some(host) = rollup::normalize_name(host.trim()) else {
            return false;
        };
        let host: Arc<str> = Arc::from(host);
        let ip = ip.to_canonical();
        let entry = Entry {
            host: Arc::clone(&host),
            learned: now,
            keep: self.policy.extension_keep,
        };
        self.extension.insert(ip, entry, now);
        if self.reports.len() < self.policy.capacity.get() {
            self.reports.push(HostReport { ip, host, bytes });
        }
        true
    }

    /// The extension reports made since the last call.
    pub fn take_reports(&mut self) -> Vec<HostReport> {
        std::mem::take(&mut self.reports)
    }

    /// The name DNS gave `ip` when a flow began at `began` (see [`AnswerHistory::name_at`]).
    pub fn dns_at(&self, ip: IpAddr, began: Instant) -> Option<Arc<str>> {
        self.dns.name_at(ip, began, self.policy.race_grace)
    }

    /// Whether a DNS answer held for `ip` gave it `host`.
    pub fn dns_answered(&self, ip: IpAddr, host: &str) -> bool {
        self.dns.answered(ip, host)
    }

    /// The newest live name the extension reported for `ip`.
    pub fn extension_name(&self, ip: IpAddr, now: Instant) -> Option<Arc<str>> {
        self.extension.get(ip, now)
    }

    /// The current name of `ip`: an extension report first, else the newest DNS answer.
    pub fn lookup(&self, ip: IpAddr, now: Instant) -> Option<KnownName> {
        let known = |host, source| KnownName { host, source };
        self.extension
            .get(ip, now)
            .map(|host| known(host, NameSource::Extension))
            .or_else(|| {
                self.dns
                    .newest(ip, now)
                    .map(|host| known(host, NameSource::Dns))
            })
    }

    /// Drops every expired entry (call it now and then, e.g. once per sample).
    pub fn purge_expired(&mut self, now: Instant) {
        self.dns.purge(now);
        self.extension.purge(now);
    }

    /// Entries held (live or not yet purged): DNS answers and extension addresses.
    pub fn len(&self) -> usize {
        self.dns.len() + self.extension.entries.len()
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A [`NameMap`] shared between threads (cheap to clone; clones share the map).
#[derive(Debug, Clone, Default)]
pub struct HostnameMap {
    map: Arc<Mutex<NameMap>>,
}

impl HostnameMap {
    /// A shared map with `policy`.
    pub fn new(policy: NamePolicy) -> Self {
        Self {
            map: Arc::new(Mutex::new(NameMap::new(policy))),
        }
    }

    /// The map, locked (for several questions at once).
    pub fn map(&self) -> MutexGuard<'_, NameMap> {
        self.map.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Remembers the browser extension's report that `host` was reached at `ip` with `bytes`
    /// (ignored when `host` is not a plausible hostname).
    pub fn learn(&self, ip: IpAddr, host: &str, bytes: u64, now: Instant) {
        self.map().learn_from_extension(host, ip, bytes, now);
    }

    /// Remembers the addresses of a DNS response.
    pub fn learn_dns<'a>(&self, answers: impl IntoIterator<Item = &'a DnsAnswer>, now: Instant) {
        self.map().learn_dns(answers, now);
    }

    /// The current name of `ip` (an extension report first, else the newest DNS answer).
    pub fn lookup(&self, ip: IpAddr, now: Instant) -> Option<Arc<str>> {
        self.map().lookup(ip, now).map(|known| known.host)
    }

    /// Drops every expired entry.
    pub fn purge_expired(&self, now: Instant) {
        self.map().purge_expired(now);
    }

    /// Entries held over both sources.
    pub fn len(&self) -> usize {
        self.map().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    fn answer(ip: &str, host: &str, ttl: u32) -> DnsAnswer {
        DnsAnswer {
            ip: ip.parse().unwrap(),
            host: host.into(),
            ttl,
        }
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn host_of(map: &NameMap, address: &str, now: Instant) -> Option<(String, NameSource)> {
        map.lookup(ip(address), now)
            .map(|known| (known.host.to_string(), known.source))
    }

    #[test]
    fn dns_lifetime_is_ttl_floored_and_graced() {
        let policy = NamePolicy::default();
        assert_eq!(policy.dns_keep(30), 15 * MINUTE);
        assert_eq!(policy.dns_keep(3600), 70 * MINUTE);
        assert_eq!(policy.dns_keep(u32::MAX), 24 * 60 * MINUTE + 10 * MINUTE);
    }

    #[test]
    fn dns_answers_expire() {
        let start = Instant::now();
        let mut map = NameMap::default();
        map.learn_dns(&[answer("192.0.2.1", "a.example.com", 30)], start);
        let seen = host_of(&map, "192.0.2.1", start + 15 * MINUTE);
        assert_eq!(seen, Some(("a.example.com".into(), NameSource::Dns)));
        assert_eq!(
            host_of(&map, "192.0.2.1", start + 15 * MINUTE + MINUTE),
            None
        );
        map.purge_expired(start + 16 * MINUTE);
        assert!(map.is_empty());
    }

    #[test]
    fn the_newest_answer_wins() {
        let start = Instant::now();
        let mut map = NameMap::default();
        map.learn_dns(&[answer("192.0.2.1", "old.example.com", 86_400)], start);
        map.learn_dns(&[answer("192.0.2.1", "new.example.com", 1)], start + MINUTE);
        let seen = host_of(&map, "192.0.2.1", start + 2 * MINUTE);
        assert_eq!(seen, Some(("new.example.com".into(), NameSource::Dns)));
    }

    fn map_of_two() -> NameMap {
        NameMap::new(NamePolicy {
            capacity: NonZeroUsize::new(2).unwrap(),
            ..NamePolicy::default()
        })
    }

    #[test]
    fn the_least_recently_learned_address_is_dropped_when_full() {
        let start = Instant::now();
        let mut map = map_of_two();
        map.learn_dns(&[answer("192.0.2.1", "one.example", 60)], start);
        map.learn_dns(&[answer("192.0.2.2", "two.example", 60)], start);
        map.learn_dns(&[answer("192.0.2.1", "one.example", 60)], start);
        map.learn_dns(&[answer("192.0.2.3", "three.example", 60)], start);
        assert_eq!(map.len(), 2);
        assert!(host_of(&map, "192.0.2.2", start).is_none());
        assert!(host_of(&map, "192.0.2.1", start).is_some());
        assert!(host_of(&map, "192.0.2.3", start).is_some());
    }

    #[test]
    fn expired_entries_make_room_first() {
        let start = Instant::now();
        let mut map = map_of_two();
        map.learn_dns(&[answer("192.0.2.1", "one.example", 1)], start);
        map.learn_dns(&[answer("192.0.2.2", "two.example", 1)], start);
        map.learn_dns(
            &[answer("192.0.2.3", "three.example", 1)],
            start + 60 * MINUTE,
        );
        assert_eq!(map.len(), 1);
    }

    #[test]
    fn extension_reports_beat_dns_and_expire_on_their_own() {
        let start = Instant::now();
        let mut map = NameMap::default();
        map.learn_dns(&[answer("2001:db8::1", "dns.example.com", 3600)], start);
        assert!(map.learn_from_extension("Video.Example.com.", ip("2001:db8::1"), 10, start));
        let seen = host_of(&map, "2001:db8::1", start + MINUTE);
        assert_eq!(
            seen,
            Some(("video.example.com".into(), NameSource::Extension))
        );
        let later = host_of(&map, "2001:db8::1", start + 11 * MINUTE);
        assert_eq!(later, Some(("dns.example.com".into(), NameSource::Dns)));
    }

    #[test]
    fn extension_reports_must_be_hostnames() {
        let mut map = NameMap::default();
        let now = Instant::now();
        assert!(!map.learn_from_extension("https://example.com/path", ip("192.0.2.1"), 1, now));
        assert!(!map.learn_from_extension("", ip("192.0.2.1"), 1, now));
        assert!(map.is_empty());
    }

    #[test]
    fn mapped_ipv4_addresses_are_the_same_address() {
        let now = Instant::now();
        let mut map = NameMap::default();
        map.learn_dns(&[answer("192.0.2.1", "v4.example", 60)], now);
        assert!(host_of(&map, "::ffff:192.0.2.1", now).is_some());
    }

    #[test]
    fn the_shared_map_learns_from_both_sources() {
        let shared = HostnameMap::default();
        let api = shared.clone();
        let now = Instant::now();
        shared.learn_dns(&[answer("198.51.100.7", "cdn.example.net", 30)], now);
        assert_eq!(
            api.lookup(ip("198.51.100.7"), now).as_deref(),
            Some("cdn.example.net")
        );
        api.learn(ip("198.51.100.7"), "www.example.org", 5, now);
        api.learn(ip("198.51.100.8"), "not a host/name", 5, now);
        assert_eq!(
            shared.lookup(ip("198.51.100.7"), now).as_deref(),
            Some("www.example.org")
        );
        assert_eq!(shared.lookup(ip("198.51.100.8"), now), None);
        assert_eq!(shared.len(), 2);
        let reports = shared.map().take_reports();
        assert_eq!(
            reports,
            [HostReport {
                ip: ip("198.51.100.7"),
                host: Arc::from("www.example.org"),
                bytes: 5,
            }],
            "valid reports are queued for the tracker"
        );
        assert!(shared.map().take_reports().is_empty(), "taken once");
    }

    #[test]
    fn dns_names_are_looked_up_at_a_flow_s_start() {
        let start = Instant::now();
        let mut map = NameMap::default();
        map.learn_dns(&[answer("192.0.2.1", "first.example", 60)], start);
        map.learn_dns(&[answer("192.0.2.1", "second.example", 60)], start + MINUTE);
        let at = |offset| {
            map.dns_at(ip("192.0.2.1"), start + offset)
                .map(|h| h.to_string())
        };
        assert_eq!(
            at(Duration::from_secs(30)).as_deref(),
            Some("first.example")
        );
        assert_eq!(at(2 * MINUTE).as_deref(), Some("second.example"));
        let before = map.dns_at(ip("192.0.2.1"), start - Duration::from_secs(2));
        assert_eq!(
            before.as_deref(),
            Some("first.example"),
            "within the race grace"
        );
        assert_eq!(map.dns_at(ip("192.0.2.1"), start - MINUTE), None);
    }

    #[test]
    fn the_shared_map_is_bounded() {
        let names = HostnameMap::default();
        let now = Instant::now();
        let capacity = NamePolicy::default().capacity.get();
        (0..capacity as u32 + 10).for_each(|i| {
            names.learn(IpAddr::from(i.to_be_bytes()), "x.example", 1, now);
        });
        assert_eq!(names.len(), capacity);
        assert_eq!(names.lookup(IpAddr::from(0u32.to_be_bytes()), now), None);
    }
}

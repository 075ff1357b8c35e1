//! Which names an address had over time: per address, the recent distinct DNS answers with when
//! each was given, so a flow is named after the answer that was current when it began, not the
//! newest one (a CDN address serves hundreds of hostnames; the client looked one of them up just
//! before connecting).
//!
//! Bounds: at most `per_address` answers per address (oldest dropped first), at most
//! `addresses` addresses (least recently answered dropped first) and at most `total` answers over
//! all addresses. An answer repeating the address's newest name extends it instead of adding one.
//! Time is passed in, never read here.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lru::LruCache;

/// One name given for an address, from its first answer to its latest repeat.
#[derive(Debug, Clone)]
struct Answer {
    host: Arc<str>,
    first: Instant,
    last: Instant,
    /// How long after `last` the answer still counts.
    keep: Duration,
}

impl Answer {
    /// True when the answer was given at or before `at` and still counted then.
    fn covers(&self, at: Instant) -> bool {
        self.first <= at && at.saturating_duration_since(self.last) <= self.keep
    }

    fn is_live(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.last) <= self.keep
    }
}

/// Limits of an [`AnswerHistory`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryLimits {
    /// Most addresses held.
    pub addresses: NonZeroUsize,
    /// Most answers held per address.
    pub per_address: usize,
    /// Most answers held over all addresses.
    pub total: usize,
}

impl Default for HistoryLimits {
    fn default() -> Self {
        Self {
            addresses: NonZeroUsize::new(4096).unwrap_or(NonZeroUsize::MIN),
            per_address: 32,
            total: 16 * 1024,
        }
    }
}

/// Per address, its recent names in the order they were answered (see the module docs).
#[derive(Debug)]
pub struct AnswerHistory {
    limits: HistoryLimits,
    addresses: LruCache<IpAddr, VecDeque<Answer>>,
    total: usize,
}

impl AnswerHistory {
    pub fn new(limits: HistoryLimits) -> Self {
        Self {
            limits,
            addresses: LruCache::new(limits.addresses),
            total: 0,
        }
    }

    /// Records that `ip` was answered `host` at `now`, counting for `keep` after its latest
    /// repeat.
    pub fn learn(&mut self, ip: IpAddr, host: &str, keep: Duration, now: Instant) {
        let ip = ip.to_canonical();
        self.drop_expired_oldest(now);
        if self.addresses.len() == self.limits.addresses.get() && !self.addresses.contains(&ip) {
            self.drop_least_recent();
        }
        let per_address = self.limits.per_address.max(1);
        let answers = self.addresses.get_or_insert_mut(ip, VecDeque::new);
        let before = answers.len();
        match answers.back_mut() {
            Some(newest) if &*newest.host == host => {
                newest.last = newest.last.max(now);
                newest.keep = keep;
            }
            _ => answers.push_back(Answer {
                host: Arc::from(host),
                first: now,
                last: now,
                keep,
            }),
        }
        while answers.len() > per_address {
            answers.pop_front();
        }
        self.total = self.total + answers.len() - before;
        while self.total > self.limits.total.max(per_address) {
            self.drop_least_recent();
        }
    }

    /// Drops addresses from the least recently answered end while none of their answers
    /// counts any more.
    fn drop_expired_oldest(&mut self, now: Instant) {
        while self
            .addresses
            .peek_lru()
            .is_some_and(|(_, answers)| !answers.iter().any(|answer| answer.is_live(now)))
        {
            self.drop_least_recent();
        }
    }

    fn drop_least_recent(&mut self) {
        if let Some((_, answers)) = self.addresses.pop_lru() {
            self.total -= answers.len();
        }
    }

    /// The name `ip` had at `at`: the newest answer given at or before `at` that still counted
    /// then; else the first answer given within `grace` after `at` (answers and a connection's
    /// first packet race).
    pub fn name_at(&self, ip: IpAddr, at: Instant, grace: Duration) -> Option<Arc<str>> {
        let answers = self.addresses.peek(&ip.to_canonical())?;
        let before = answers.iter().rev().find(|answer| answer.covers(at));
        let raced = || {
            answers
                .iter()
                .find(|answer| answer.first > at && answer.first.duration_since(at) <= grace)
        };
        before.or_else(raced).map(|answer| Arc::clone(&answer.host))
    }

    /// Whether DNS answered `host` for `ip` among the answers held (of any time).
    pub fn answered(&self, ip: IpAddr, host: &str) -> bool {
        self.addresses
            .peek(&ip.to_canonical())
            .is_some_and(|answers| answers.iter().any(|answer| &*answer.host == host))
    }

    /// The newest name of `ip` still counting at `now`.
    pub fn newest(&self, ip: IpAddr, now: Instant) -> Option<Arc<str>> {
        self.addresses
            .peek(&ip.to_canonical())?
            .iter()
            .rev()
            .find(|answer| answer.is_live(now))
            .map(|answer| Arc::clone(&answer.host))
    }

    /// Drops every answer that no longer counts at `now`, and addresses left without one.
    pub fn purge(&mut self, now: Instant) {
        let mut emptied = Vec::new();
        let mut dropped = 0;
        self.addresses.iter_mut().for_each(|(ip, answers)| {
            let before = answers.len();
            answers.retain(|answer| answer.is_live(now));
            dropped += before - answers.len();
            if answers.is_empty() {
                emptied.push(*ip);
            }
        });
        emptied.iter().for_each(|ip| {
            self.addresses.pop(ip);
        });
        self.total -= dropped;
    }

    /// Answers held over all addresses.
    pub fn len(&self) -> usize {
        self.total
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// Addresses held.
    pub fn addresses(&self) -> usize {
        self.addresses.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const KEEP: Duration = Duration::from_secs(900);
    const GRACE: Duration = Duration::from_secs(3);

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn seconds(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    fn name(history: &AnswerHistory, at: Instant) -> Option<String> {
        history
            .name_at(ip("192.0.2.7"), at, GRACE)
            .map(|host| host.to_string())
    }

    #[test]
    fn a_lookup_at_a_time_gives_the_answer_current_then() {
        let start = Instant::now();
        let mut history = AnswerHistory::new(HistoryLimits::default());
        let cdn = ip("192.0.2.7");
        history.learn(cdn, "a.example", KEEP, start);
        history.learn(cdn, "b.example", KEEP, start + seconds(10));
        history.learn(cdn, "a.example", KEEP, start + seconds(20));
        assert_eq!(
            name(&history, start + seconds(5)).as_deref(),
            Some("a.example")
        );
        assert_eq!(
            name(&history, start + seconds(10)).as_deref(),
            Some("b.example")
        );
        assert_eq!(
            name(&history, start + seconds(19)).as_deref(),
            Some("b.example")
        );
        assert_eq!(
            name(&history, start + seconds(25)).as_deref(),
            Some("a.example")
        );
        assert_eq!(
            history.newest(cdn, start + seconds(25)).as_deref(),
            Some("a.example")
        );
    }

    #[test]
    fn a_flow_just_before_the_first_answer_takes_it_within_the_grace() {
        let start = Instant::now();
        let mut history = AnswerHistory::new(HistoryLimits::default());
        history.learn(ip("192.0.2.7"), "late.example", KEEP, start + seconds(2));
        assert_eq!(name(&history, start).as_deref(), Some("late.example"));
        assert_eq!(name(&history, start - seconds(2)), None, "past the grace");
    }

    #[test]
    fn a_repeated_answer_extends_its_name_without_moving_its_start() {
        let start = Instant::now();
        let mut history = AnswerHistory::new(HistoryLimits::default());
        let cdn = ip("192.0.2.7");
        history.learn(cdn, "a.example", seconds(60), start);
        history.learn(cdn, "a.example", seconds(60), start + seconds(30));
        assert_eq!(history.len(), 1);
        assert_eq!(
            name(&history, start + seconds(20)).as_deref(),
            Some("a.example")
        );
        assert_eq!(
            name(&history, start + seconds(85)).as_deref(),
            Some("a.example")
        );
        assert_eq!(name(&history, start + seconds(91)), None, "expired");
    }

    #[test]
    fn expired_answers_are_purged() {
        let start = Instant::now();
        let mut history = AnswerHistory::new(HistoryLimits::default());
        history.learn(ip("192.0.2.7"), "a.example", seconds(60), start);
        history.learn(ip("192.0.2.8"), "b.example", seconds(600), start);
        history.purge(start + seconds(61));
        assert_eq!((history.len(), history.addresses()), (1, 1));
        assert_eq!(history.newest(ip("192.0.2.7"), start + seconds(61)), None);
    }

    #[test]
    fn mapped_ipv4_addresses_are_the_same_address() {
        let now = Instant::now();
        let mut history = AnswerHistory::new(HistoryLimits::default());
        history.learn(ip("::ffff:192.0.2.7"), "v4.example", KEEP, now);
        assert_eq!(name(&history, now).as_deref(), Some("v4.example"));
    }

    proptest! {
        /// A flood of distinct answers for one address (a CDN) keeps at most `per_address` of
        /// them, the newest ones, and lookups at the time of each kept answer give it.
        #[test]
        fn a_flood_for_one_address_stays_bounded(count in 1usize..3000, per_address in 1usize..64) {
            let start = Instant::now();
            let limits = HistoryLimits { per_address, ..HistoryLimits::default() };
            let mut history = AnswerHistory::new(limits);
            let cdn = ip("192.0.2.7");
            (0..count).for_each(|n| {
                let at = start + Duration::from_millis(n as u64 * 10);
                history.learn(cdn, &format!("site{n}.example"), KEEP, at);
            });
            prop_assert_eq!(history.len(), count.min(per_address));
            (count.saturating_sub(per_address)..count).for_each(|n| {
                let at = start + Duration::from_millis(n as u64 * 10 + 5);
                let expected = format!("site{n}.example");
                assert_eq!(history.name_at(cdn, at, GRACE).as_deref(), Some(expected.as_str()));
            });
        }

        /// Any sequence of answers over many addresses stays within every bound.
        #[test]
        fn any_answers_stay_within_the_bounds(
            answers in proptest::collection::vec((0u8..40, 0u8..8, 0u64..100), 0..400),
            addresses in 1usize..16,
            per_address in 1usize..8,
            total in 1usize..40,
        ) {
            let start = Instant::now();
            let limits = HistoryLimits {
                addresses: NonZeroUsize::new(addresses).unwrap(),
                per_address,
                total,
            };
            let mut history = AnswerHistory::new(limits);
            for (address, host, at) in answers {
                let ip = IpAddr::from([192, 0, 2, address]);
                history.learn(ip, &format!("h{host}.example"), KEEP, start + seconds(at));
                let held: usize = history.addresses.iter().map(|(_, a)| a.len()).sum();
                prop_assert_eq!(held, history.len());
                prop_assert!(history.addresses() <= addresses);
                prop_assert!(history.len() <= total.max(per_address));
                prop_assert!(history.addresses.iter().all(|(_, a)| a.len() <= per_address));
            }
        }

        /// The name at a time is the newest answer given at or before it.
        #[test]
        fn the_name_at_a_time_is_the_newest_answer_before_it(
            hosts in proptest::collection::vec(0u8..4, 1..30),
            probe in 0u64..400,
        ) {
            let start = Instant::now();
            let mut history = AnswerHistory::new(HistoryLimits::default());
            let cdn = ip("192.0.2.7");
            hosts.iter().enumerate().for_each(|(n, host)| {
                history.learn(cdn, &format!("h{host}.example"), KEEP, start + seconds(n as u64 * 10));
            });
            let at = start + seconds(probe);
            let index = usize::try_from(probe / 10).unwrap().min(hosts.len() - 1);
            let expected = format!("h{}.example", hosts[index]);
            let found = history.name_at(cdn, at, GRACE);
            prop_assert_eq!(found.as_deref(), Some(expected.as_str()));
        }
    }
}

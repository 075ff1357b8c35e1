//! Hostnames learned for remote IP addresses outside the capture (the browser extension reports
//! which hostname it reached at which IP). Shared between the API, which learns, and the
//! tracker, which asks; bounded, and forgetting entries after a while.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Most addresses remembered; the oldest are forgotten first.
const MAX_ENTRIES: usize = 4096;
/// How long a learned name is used.
const KEEP_FOR: Duration = Duration::from_secs(600);

#[derive(Debug, Clone)]
struct Learned {
    host: Arc<str>,
    at: Instant,
}

/// IP address → hostname, newest report wins (cheap to clone; clones share the map).
#[derive(Debug, Clone, Default)]
pub struct HostnameMap {
    entries: Arc<Mutex<HashMap<IpAddr, Learned>>>,
}

impl HostnameMap {
    /// Remembers that `host` was reached at `ip`.
    pub fn learn(&self, ip: IpAddr, host: &str, now: Instant) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries.insert(
            crate::flow::canonical(ip),
            Learned {
                host: Arc::from(host),
                at: now,
            },
        );
        if entries.len() > MAX_ENTRIES {
            entries.retain(|_, learned| now.duration_since(learned.at) < KEEP_FOR);
        }
        while entries.len() > MAX_ENTRIES {
            let oldest = entries
                .iter()
                .min_by_key(|(_, learned)| learned.at)
                .map(|(ip, _)| *ip);
            match oldest {
                Some(ip) => entries.remove(&ip),
                None => break,
            };
        }
    }

    /// The hostname last learned for `ip`, unless it is too old.
    pub fn lookup(&self, ip: IpAddr, now: Instant) -> Option<Arc<str>> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries
            .get(&crate::flow::canonical(ip))
            .filter(|learned| now.duration_since(learned.at) < KEEP_FOR)
            .map(|learned| Arc::clone(&learned.host))
    }

    pub fn len(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_report_wins_and_old_ones_expire() {
        let names = HostnameMap::default();
        let ip: IpAddr = "198.51.100.7".parse().unwrap();
        let now = Instant::now();
        names.learn(ip, "a.example", now);
        names.learn(ip, "b.example", now);
        assert_eq!(names.lookup(ip, now).as_deref(), Some("b.example"));
        let mapped: IpAddr = "::ffff:198.51.100.7".parse().unwrap();
        assert_eq!(names.lookup(mapped, now).as_deref(), Some("b.example"));
        assert_eq!(names.lookup(ip, now + KEEP_FOR), None);
    }

    #[test]
    fn the_map_is_bounded() {
        let names = HostnameMap::default();
        let now = Instant::now();
        (0..MAX_ENTRIES as u32 + 10).for_each(|i| {
            let ip = IpAddr::from(i.to_be_bytes());
            names.learn(ip, "x.example", now + Duration::from_millis(u64::from(i)));
        });
        assert_eq!(names.len(), MAX_ENTRIES);
        assert_eq!(
            names.lookup(IpAddr::from(0u32.to_be_bytes()), now),
            None,
            "the oldest went first"
        );
    }
}

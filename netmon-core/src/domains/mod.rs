//! Which sites the bytes went to: hostnames read on the wire (TLS ClientHello SNI), rolled up to
//! their registrable domain with the Public Suffix List.
//!
//! Sources, strongest first, per flow: the flow's own TLS ClientHello SNI, then the hostname
//! the browser extension reported for the flow's remote IP ([`names::HostnameMap`]). DNS answers
//! and QUIC Initial SNI are further sources, not wired yet. Only hostnames are read and kept —
//! never URLs, paths or query strings.

pub mod names;
pub mod rollup;
pub mod tls;

use crate::config::{Config, DomainTracking};

/// Which applications' traffic is broken down by domain, and how names are rolled up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainPolicy {
    pub tracking: DomainTracking,
    pub browsers: Vec<String>,
    pub rollup: bool,
}

impl DomainPolicy {
    pub fn from_config(config: &Config) -> Self {
        Self {
            tracking: config.domain_tracking,
            browsers: config.browser_apps.clone(),
            rollup: config.domain_rollup,
        }
    }

    /// Whether `app`'s traffic is broken down by domain.
    pub fn tracks(&self, app: &str) -> bool {
        match self.tracking {
            DomainTracking::All => true,
            DomainTracking::Off => false,
            DomainTracking::Browsers => self
                .browsers
                .iter()
                .any(|browser| browser.eq_ignore_ascii_case(app)),
        }
    }
}

impl Default for DomainPolicy {
    fn default() -> Self {
        Self::from_config(&Config::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browsers_by_default_all_or_off_on_request() {
        let mut policy = DomainPolicy::default();
        assert!(policy.tracks("Firefox"));
        assert!(!policy.tracks("curl"));
        policy.tracking = DomainTracking::All;
        assert!(policy.tracks("curl"));
        policy.tracking = DomainTracking::Off;
        assert!(!policy.tracks("zen"));
    }
}

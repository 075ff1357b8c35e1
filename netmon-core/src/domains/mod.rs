//! Which sites the bytes went to: hostnames read on the wire and from the browser extension,
//! rolled up to their registrable domain with the Public Suffix List.
//!
//! Sources, strongest first, per flow (docs/domains.md):
//! 1. the server name in the flow's own ClientHello — TLS over TCP ([`tls`], reassembled when a
//!    ClientHello spans segments) or QUIC v1/v2 Initial packets ([`quic`]);
//! 2. the `Host` header of the flow's plain-HTTP request ([`http`]);
//! 3. the browser extension's reports of hostnames at the flow's remote address ([`names`]);
//! 4. the DNS answer for the remote address current when the flow began ([`dns`], [`history`]);
//! 5. none: the flow keeps its address as `unresolved`, nothing is guessed.
//!
//! A ClientHello carrying `encrypted_client_hello` names only the provider's public name: it
//! ranks below the extension and DNS.
//!
//! [`inspect::Inspector`] reads captured packets into these facts; the tracker applies them.
//! Hostnames are then rolled up to registrable domains ([`rollup`]). Only hostnames are read and
//! kept — never URLs, paths, query strings or payload.

pub mod dns;
pub mod history;
pub mod http;
pub mod inspect;
pub mod names;
pub mod quic;
pub mod rollup;
pub mod tls;

mod assembler;
mod handshake;
mod reader;

#[cfg(test)]
mod proptests;
#[cfg(test)]
pub(crate) mod testdata;

pub use assembler::SniProgress;
pub use dns::DnsAnswer;
pub use handshake::{ServerName, SniError, MAX_CLIENT_HELLO};
pub use inspect::{Inspector, Naming, Reader};
pub use names::{HostReport, HostnameMap, KnownName, NameMap, NamePolicy, NameSource};
pub use quic::QuicClientHelloAssembler;
pub use tls::ClientHelloAssembler;

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

    /// Whether `app`'s traffic is broken down by domain. Under `browsers`, an application
    /// matches a listed name case-insensitively, alone or followed by a variant after a
    /// separator (`firefox-esr`, `zen-bin`, `Google Chrome Canary` for `firefox`, `zen`,
    /// `google chrome`).
    pub fn tracks(&self, app: &str) -> bool {
        match self.tracking {
            DomainTracking::All => true,
            DomainTracking::Off => false,
            DomainTracking::Browsers => self.is_browser(app),
        }
    }

    /// Whether `app` is one of the browsers (`browser_apps`, matched as [`Self::tracks`] does):
    /// the applications whose bytes the browser extension's reports may name.
    pub fn is_browser(&self, app: &str) -> bool {
        self.browsers.iter().any(|browser| is_named(app, browser))
    }
}

/// True when `app` is `name` or a variant of it (`name` then `-`, `_`, `.` or a space), ignoring
/// ASCII case.
fn is_named(app: &str, name: &str) -> bool {
    let app = app.trim();
    let name = name.trim();
    !name.is_empty()
        && app
            .get(..name.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(name))
        && app[name.len()..]
            .chars()
            .next()
            .is_none_or(|next| matches!(next, '-' | '_' | '.' | ' '))
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
        for variant in ["firefox-esr", "zen-bin", "Google Chrome Canary", "chromium"] {
            assert!(policy.tracks(variant), "{variant}");
        }
        for other in ["firefoxy", "archiver", "curl-firefox", ""] {
            assert!(!policy.tracks(other), "{other}");
        }
        policy.tracking = DomainTracking::All;
        assert!(policy.tracks("curl"));
        policy.tracking = DomainTracking::Off;
        assert!(!policy.tracks("zen"));
    }
}

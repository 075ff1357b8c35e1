//! Which hostname each flow talks to, from the wire and the browser extension, and its
//! registrable domain. Pure functions over bytes and values: the capture pipeline feeds them.
//!
//! Sources, strongest first, per flow (see [`resolve`] and docs/domains.md):
//! 1. the server name in the flow's own ClientHello — TLS over TCP ([`tls`]) or QUIC Initial
//!    packets ([`quic`]);
//! 2. the browser extension's report of a hostname at the flow's remote address ([`names`]);
//! 3. the newest DNS answer for the remote address ([`dns`], [`names`]);
//! 4. none: the flow keeps its address, nothing is guessed.
//!
//! Hostnames are then rolled up to registrable domains ([`rollup`]). Only hostnames are kept:
//! never URLs, paths or payload.

pub mod dns;
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
mod testdata;

use std::net::IpAddr;
use std::time::Instant;

pub use assembler::SniProgress;
pub use dns::DnsAnswer;
pub use handshake::{SniError, MAX_CLIENT_HELLO};
pub use names::{KnownName, NameMap, NamePolicy, NameSource};
pub use quic::QuicClientHelloAssembler;
pub use tls::ClientHelloAssembler;

use crate::config::{Config, DomainTracking};

/// True when flows of `app` get a per-domain breakdown under `config.domain_tracking`:
/// browsers only (matched by [`Config::is_browser`]), every application, or none.
pub fn tracks_domains(config: &Config, app: &str) -> bool {
    match config.domain_tracking {
        DomainTracking::Browsers => config.is_browser(app),
        DomainTracking::All => true,
        DomainTracking::Off => false,
    }
}

/// The hostname of a flow, by source priority: the flow's own ClientHello server name
/// (`flow_sni`), else the extension's report for `remote`, else the newest DNS answer for
/// `remote`, else `None` (the caller keeps the address; nothing is guessed).
pub fn resolve<'a>(
    flow_sni: Option<&'a str>,
    names: &'a NameMap,
    remote: IpAddr,
    now: Instant,
) -> Option<KnownName<'a>> {
    flow_sni
        .map(|host| KnownName {
            host,
            source: NameSource::Sni,
        })
        .or_else(|| names.lookup(remote, now))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(tracking: DomainTracking) -> Config {
        Config {
            domain_tracking: tracking,
            ..Config::default()
        }
    }

    #[test]
    fn tracking_follows_the_setting() {
        let browsers = config(DomainTracking::Browsers);
        assert!(tracks_domains(&browsers, "Firefox"));
        assert!(!tracks_domains(&browsers, "curl"));
        assert!(tracks_domains(&config(DomainTracking::All), "curl"));
        assert!(!tracks_domains(&config(DomainTracking::Off), "firefox"));
    }

    #[test]
    fn sources_in_priority_order() {
        let now = Instant::now();
        let remote: IpAddr = "192.0.2.80".parse().unwrap();
        let mut names = NameMap::default();
        assert_eq!(resolve(None, &names, remote, now), None);

        let answer = DnsAnswer {
            ip: remote,
            host: "dns.example.com".into(),
            ttl: 60,
        };
        names.learn_dns([&answer], now);
        let by_dns = resolve(None, &names, remote, now).unwrap();
        assert_eq!(
            (by_dns.host, by_dns.source),
            ("dns.example.com", NameSource::Dns)
        );

        names.learn_from_extension("ext.example.com", remote, now);
        let by_extension = resolve(None, &names, remote, now).unwrap();
        assert_eq!(
            (by_extension.host, by_extension.source),
            ("ext.example.com", NameSource::Extension)
        );

        let by_sni = resolve(Some("sni.example.com"), &names, remote, now).unwrap();
        assert_eq!(
            (by_sni.host, by_sni.source),
            ("sni.example.com", NameSource::Sni)
        );
    }
}

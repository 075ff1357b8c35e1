//! Hostname → registrable domain with the Public Suffix List (`api.netflix.com` → `netflix.com`,
//! `foo.bbc.co.uk` → `bbc.co.uk`).

use std::net::IpAddr;

use crate::sample::Destination;

/// The destination of traffic to `host`: the hostname (lower case, no trailing dot) and its
/// registrable domain — or the hostname itself when `rollup` is off, for IP literals,
/// `localhost`, and names that have no registrable part (a bare public suffix, one label).
pub fn destination(host: &str, rollup: bool) -> Destination {
    let host = normalize(host);
    let domain = if rollup {
        registrable(&host).unwrap_or_else(|| host.clone())
    } else {
        host.clone()
    };
    Destination { host, domain }
}

fn normalize(host: &str) -> String {
    host.trim().trim_end_matches('.').to_ascii_lowercase()
}

fn registrable(host: &str) -> Option<String> {
    if host.parse::<IpAddr>().is_ok() || !host.contains('.') {
        return None;
    }
    psl::domain_str(host).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn domain(host: &str) -> String {
        destination(host, true).domain
    }

    #[test]
    fn hostnames_roll_up_to_their_registrable_domain() {
        assert_eq!(domain("api.netflix.com"), "netflix.com");
        assert_eq!(domain("foo.bbc.co.uk"), "bbc.co.uk");
        assert_eq!(domain("A.B.Example.ORG."), "example.org");
        assert_eq!(domain("netflix.com"), "netflix.com");
        assert_eq!(domain("xn--bcher-kva.example.de"), "example.de");
        assert_eq!(
            destination("API.netflix.com.", true).host,
            "api.netflix.com"
        );
    }

    #[test]
    fn names_without_a_registrable_part_are_kept_whole() {
        assert_eq!(domain("localhost"), "localhost");
        assert_eq!(domain("192.0.2.7"), "192.0.2.7");
        assert_eq!(domain("2001:db8::1"), "2001:db8::1");
        assert_eq!(domain("co.uk"), "co.uk");
    }

    #[test]
    fn rollup_can_be_turned_off() {
        assert_eq!(
            destination("api.netflix.com", false).domain,
            "api.netflix.com"
        );
    }
}

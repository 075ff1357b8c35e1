//! Hostname → registrable domain, with the Public Suffix List (`psl`).
//!
//! Rules, in order (docs/domains.md repeats them):
//! 1. Surrounding whitespace and trailing dots are trimmed, letters lower-cased.
//! 2. IP literals (`192.0.2.1`, `2001:db8::1`, `[2001:db8::1]`) are kept as they are, in their
//!    canonical text form, as both host and domain: an address is never turned into a name.
//! 3. `localhost` and anything under it (`app.localhost`) is grouped under `localhost`.
//! 4. Anything else must be a plausible DNS name (labels of letters, digits, `-`, `_`; Unicode
//!    letters are accepted for IDN input, though the wire always carries punycode `xn--` labels),
//!    else it is refused (`None`). This is [`normalize_name`], netmon's one hostname rule, also
//!    applied to the browser extension's reports; a name whose last label is all digits is refused.
//! 5. The registrable domain is the public suffix plus one label (`api.netflix.com` →
//!    `netflix.com`, `foo.bbc.co.uk` → `bbc.co.uk`). A name with no registrable domain — a bare
//!    public suffix (`co.uk`) or a single label (`nas`) — is its own domain: it is kept, never
//!    guessed into something else.

use std::net::IpAddr;

use crate::sample::{Destination, Provenance};

/// The longest DNS name, in its text form without the trailing dot.
pub const MAX_HOST_LEN: usize = 253;
/// The longest DNS label.
const MAX_LABEL_LEN: usize = 63;
/// What every name under `localhost` is grouped as.
pub const LOCALHOST: &str = "localhost";
/// The domain of a tracked flow whose server no source named: its address is kept as the host,
/// grouped under this, never guessed into a name.
pub const UNRESOLVED: &str = "unresolved";

/// The destination of a flow to `address` that no DNS answer, server name or report named.
pub fn unresolved(address: IpAddr) -> Destination {
    Destination {
        host: address.to_string(),
        domain: UNRESOLVED.to_owned(),
        provenance: Provenance::Unresolved,
    }
}

/// The destination to record for `host`: the normalised hostname and, when `rollup` is on, its
/// registrable domain (with `rollup` off the domain is the full hostname). `None` when `host` is
/// neither an IP literal nor a plausible DNS name. `provenance` says how `host` was learned.
pub fn destination(host: &str, rollup: bool, provenance: Provenance) -> Option<Destination> {
    let host = normalize(host)?;
    let domain = if rollup {
        registrable_domain(&host)
    } else {
        host.clone()
    };
    Some(Destination {
        host,
        domain,
        provenance,
    })
}

/// The registrable domain of an already normalised `host` (see the module rules).
pub fn registrable_domain(host: &str) -> String {
    if host.parse::<IpAddr>().is_ok() {
        return host.to_owned();
    }
    if is_localhost(host) {
        return LOCALHOST.to_owned();
    }
    psl::domain_str(host).unwrap_or(host).to_owned()
}

/// `host` in its canonical form: an IP literal's text form, or a lower-cased DNS name without
/// trailing dot. `None` when it is neither.
pub fn normalize(host: &str) -> Option<String> {
    let trimmed = host.trim().trim_end_matches('.');
    ip_literal(trimmed)
        .map(|ip| ip.to_string())
        .or_else(|| normalize_name(trimmed))
}

/// A lower-cased DNS name without its trailing dot, when `name` is one: the one hostname rule
/// of netmon, for names read on the wire (SNI, DNS) and names the browser extension reports.
///
/// - at most 253 characters, in dot-separated labels of 1 to 63;
/// - labels of letters, digits, `-` and `_` (`_` occurs in real names, e.g. `_dmarc` or CDN
///   hosts); Unicode letters are accepted for IDN input, though the wire carries `xn--` labels;
/// - no label starts or ends with `-`;
/// - an address is not a name: IP literals (`192.0.2.1`, `2001:db8::1`, `[::1]`) and names whose
///   last label is all digits (`1.2.3`, which resolvers read as an IPv4 address) are refused.
pub fn normalize_name(name: &str) -> Option<String> {
    let name = name.strip_suffix('.').unwrap_or(name);
    let valid = (1..=MAX_HOST_LEN).contains(&name.len())
        && name.split('.').all(is_label)
        && !name
            .rsplit('.')
            .next()
            .is_some_and(|last| last.chars().all(|c| c.is_ascii_digit()));
    valid.then(|| name.to_lowercase())
}

fn ip_literal(text: &str) -> Option<IpAddr> {
    let unbracketed = text
        .strip_prefix('[')
        .and_then(|inner| inner.strip_suffix(']'))
        .unwrap_or(text);
    unbracketed
        .parse::<IpAddr>()
        .ok()
        .map(|ip| ip.to_canonical())
}

fn is_label(label: &str) -> bool {
    (1..=MAX_LABEL_LEN).contains(&label.len())
        && !label.starts_with('-')
        && !label.ends_with('-')
        && label
            .chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '_')
}

fn is_localhost(host: &str) -> bool {
    host == LOCALHOST || host.ends_with(".localhost")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each (input, host, domain) with rollup on.
    fn check(cases: &[(&str, &str, &str)]) {
        for &(input, host, domain) in cases {
            let expected = Destination {
                host: host.to_owned(),
                domain: domain.to_owned(),
                provenance: Provenance::Dns,
            };
            assert_eq!(
                destination(input, true, Provenance::Dns),
                Some(expected),
                "{input:?}"
            );
        }
    }

    #[test]
    fn subdomains_roll_up_to_the_registrable_domain() {
        check(&[
            ("api.netflix.com", "api.netflix.com", "netflix.com"),
            ("netflix.com", "netflix.com", "netflix.com"),
            ("a.b.c.example.org", "a.b.c.example.org", "example.org"),
        ]);
    }

    #[test]
    fn multi_label_public_suffixes() {
        check(&[
            ("foo.bbc.co.uk", "foo.bbc.co.uk", "bbc.co.uk"),
            ("www.gov.uk", "www.gov.uk", "www.gov.uk"),
            ("s3.amazonaws.com", "s3.amazonaws.com", "s3.amazonaws.com"),
            ("www.user.github.io", "www.user.github.io", "user.github.io"),
        ]);
    }

    #[test]
    fn case_and_trailing_dots_are_normalised() {
        check(&[
            ("WWW.Netflix.COM.", "www.netflix.com", "netflix.com"),
            (" api.example.com.. ", "api.example.com", "example.com"),
        ]);
    }

    #[test]
    fn ip_literals_are_kept_as_they_are() {
        check(&[
            ("192.0.2.10", "192.0.2.10", "192.0.2.10"),
            ("2001:DB8::1", "2001:db8::1", "2001:db8::1"),
            ("[2001:db8::1]", "2001:db8::1", "2001:db8::1"),
            ("::ffff:192.0.2.10", "192.0.2.10", "192.0.2.10"),
        ]);
    }

    #[test]
    fn localhost_is_grouped() {
        check(&[
            ("localhost", "localhost", "localhost"),
            ("LocalHost.", "localhost", "localhost"),
            ("app.localhost", "app.localhost", "localhost"),
        ]);
    }

    #[test]
    fn names_without_a_registrable_domain_are_their_own_domain() {
        check(&[
            ("co.uk", "co.uk", "co.uk"),
            ("com", "com", "com"),
            ("nas", "nas", "nas"),
        ]);
    }

    #[test]
    fn idn_names_in_punycode_and_unicode() {
        check(&[
            (
                "www.xn--bcher-kva.de",
                "www.xn--bcher-kva.de",
                "xn--bcher-kva.de",
            ),
            ("WWW.Bücher.de", "www.bücher.de", "bücher.de"),
            (
                "shop.xn--80ak6aa92e.xn--p1ai",
                "shop.xn--80ak6aa92e.xn--p1ai",
                "xn--80ak6aa92e.xn--p1ai",
            ),
        ]);
    }

    #[test]
    fn rollup_off_keeps_the_full_hostname() {
        let destination = destination("API.Netflix.com.", false, Provenance::Sni).unwrap();
        assert_eq!(destination.host, "api.netflix.com");
        assert_eq!(destination.domain, "api.netflix.com");
    }

    #[test]
    fn one_hostname_rule() {
        let accepted = [
            ("netflix.com", "netflix.com"),
            ("API.Netflix.COM.", "api.netflix.com"),
            ("xn--bcher-kva.example", "xn--bcher-kva.example"),
            ("Bücher.de", "bücher.de"),
            ("_dmarc.example.com", "_dmarc.example.com"),
            ("my_host.example.com", "my_host.example.com"),
            ("nas", "nas"),
            ("1password.com", "1password.com"),
            ("a1.b2.c3", "a1.b2.c3"),
        ];
        for (input, name) in accepted {
            assert_eq!(normalize_name(input).as_deref(), Some(name), "{input:?}");
        }
        let refused = [
            "192.0.2.1",
            "1.2.3",
            "123",
            "2001:db8::1",
            "[2001:db8::1]",
            "::ffff:192.0.2.10",
            "",
            ".",
            "a..b",
            "netflix.com..",
            "-a.com",
            "a-.com",
            "a b.com",
            " netflix.com",
            "netflix.com:443",
            "https://netflix.com",
            "netflix.com/path",
            "user@netflix.com",
        ];
        for input in refused {
            assert_eq!(normalize_name(input), None, "{input:?}");
        }
        assert!(normalize_name(&format!("{}.com", "a".repeat(63))).is_some());
        assert!(normalize_name(&format!("{}.com", "a".repeat(64))).is_none());
        let longest = ["abc"; 63].join(".") + ".a";
        assert_eq!(longest.len(), MAX_HOST_LEN);
        assert!(normalize_name(&longest).is_some());
        assert!(normalize_name(&(longest + "b")).is_none());
    }

    #[test]
    fn garbage_is_refused() {
        for host in [
            "",
            ".",
            "a..b",
            "-bad.com",
            "bad-.com",
            "white space.com",
            "example.com/path",
            "user@example.com",
            "https://example.com",
            &"a".repeat(64),
            &format!("{}.com", ["abc"; 70].join(".")),
        ] {
            assert_eq!(destination(host, true, Provenance::Http), None, "{host:?}");
        }
    }
}

//! Human-readable byte counts and rates (decimal units, as network tools and macOS use), and
//! byte counts read back from such text (`5GB`, `1.5 TB`, `700 MB`).

const UNITS: [&str; 6] = ["B", "KB", "MB", "GB", "TB", "PB"];

/// `1234567` → `1.2 MB`.
pub fn bytes(count: u64) -> String {
    scaled(count as f64, "")
}

/// Bytes per second: `1234567.0` → `1.2 MB/s`.
pub fn rate(bytes_per_second: f64) -> String {
    scaled(bytes_per_second.max(0.0), "/s")
}

fn scaled(value: f64, suffix: &str) -> String {
    let (value, unit) = UNITS
        .iter()
        .skip(1)
        .fold((value, UNITS[0]), |(value, unit), next| {
            if value >= 1000.0 {
                (value / 1000.0, *next)
            } else {
                (value, unit)
            }
        });
    if unit == UNITS[0] {
        format!("{value:.0} {unit}{suffix}")
    } else {
        format!("{value:.1} {unit}{suffix}")
    }
}

/// `5GB`, `1.5 TB`, `700mb`, `123` (bytes) → bytes, decimal units up to PB; the problem in
/// words otherwise.
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let unit = unit.trim().to_ascii_uppercase();
    let power = UNITS
        .iter()
        .position(|name| *name == unit || (unit.is_empty() && *name == "B"))
        .ok_or_else(|| format!("{text:?}: the unit must be one of B, KB, MB, GB, TB, PB"))?;
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not an amount such as 5GB or 700MB"))?;
    let bytes = value * 1000f64.powi(power as i32);
    (bytes.is_finite() && bytes < u64::MAX as f64)
        .then_some(bytes.round() as u64)
        .ok_or_else(|| format!("{text:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_read_back() {
        assert_eq!(parse_bytes("5GB"), Ok(5_000_000_000));
        assert_eq!(parse_bytes(" 1.5 tb "), Ok(1_500_000_000_000));
        assert_eq!(parse_bytes("700"), Ok(700));
        assert_eq!(parse_bytes("2 KB"), Ok(2000));
        assert!(parse_bytes("5 GiB")
            .unwrap_err()
            .contains("the unit must be"));
        assert!(parse_bytes("GB").unwrap_err().contains("is not an amount"));
        assert!(parse_bytes("-5GB").is_err());
        assert!(parse_bytes("1e30").is_err());
    }

    proptest::proptest! {
        #[test]
        fn any_text_parses_or_names_its_problem(text in ".{0,12}") {
            let _ = parse_bytes(&text);
        }
    }

    #[test]
    fn decimal_units() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(999), "999 B");
        assert_eq!(bytes(1000), "1.0 KB");
        assert_eq!(bytes(1_234_567), "1.2 MB");
        assert_eq!(bytes(400_000_000_000), "400.0 GB");
        assert_eq!(rate(2_500.0), "2.5 KB/s");
        assert_eq!(rate(-1.0), "0 B/s");
    }
}

//! Human-readable byte counts and rates (decimal units, as network tools and macOS use).

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

#[cfg(test)]
mod tests {
    use super::*;

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

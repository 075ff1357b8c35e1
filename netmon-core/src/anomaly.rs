//! "Unusual for you": an hour of one application's (or domain's) usage compared with the same
//! hour of the week over the last weeks, by robust statistics — the median and the median
//! absolute deviation (MAD), which a past burst or holiday barely moves — and an absolute floor,
//! so 3 KB → 30 KB never alerts. Also a new application that moved a lot in its first hour.
//! Pure: the store gives the hours (`store::budgets`), `alerts` records what is found. The
//! defaults come from the evaluation in `tests/anomaly_eval.rs` (figures in docs/alerts.md).

use serde::Serialize;

/// Weeks of history a baseline reads (the hourly tier keeps up to 90 days).
pub const WEEKS: usize = 8;
/// Fewest weeks of history before an hour can be called unusual.
pub const MIN_WEEKS: usize = 3;
/// The MAD of normally distributed values times this estimates their standard deviation.
const MAD_TO_SIGMA: f64 = 1.4826;
/// The spread is never taken below this fraction of the median (a perfectly regular history
/// would otherwise make any change unusual).
const MIN_RELATIVE_SPREAD: f64 = 0.1;

/// How readily an hour is called unusual.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Sensitivity {
    /// How many robust standard deviations above the median an hour must be.
    pub threshold: f64,
    /// How many times the median an hour must be, at least.
    pub min_factor: f64,
    /// Bytes an hour must reach at least, whatever its history.
    pub floor_bytes: u64,
    /// Bytes a new application must move in its first hour to be reported.
    pub new_app_bytes: u64,
}

pub const MB: u64 = 1_000_000;
const HOUR_MS: i64 = 3_600_000;

impl Default for Sensitivity {
    fn default() -> Self {
        Self {
            threshold: 6.0,
            min_factor: 3.0,
            floor_bytes: 20 * MB,
            new_app_bytes: 100 * MB,
        }
    }
}

/// The usual usage of one hour of the week.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct Baseline {
    pub median: f64,
    /// Median absolute deviation from the median.
    pub mad: f64,
    /// Weeks the baseline was taken from.
    pub weeks: u32,
}

impl Baseline {
    /// The baseline of the same hour in past weeks; `None` with fewer than [`MIN_WEEKS`].
    pub fn of(history: &[u64]) -> Option<Self> {
        if history.len() < MIN_WEEKS {
            return None;
        }
        let values: Vec<f64> = history.iter().map(|&bytes| bytes as f64).collect();
        let median = median(&values);
        let deviations: Vec<f64> = values.iter().map(|value| (value - median).abs()).collect();
        Some(Self {
            median,
            mad: median_of(deviations),
            weeks: history.len() as u32,
        })
    }

    /// The robust standard deviation, at least a tenth of the median.
    pub fn spread(&self) -> f64 {
        (MAD_TO_SIGMA * self.mad).max(MIN_RELATIVE_SPREAD * self.median)
    }

    /// The usual band: from the median less the spread to the highest usual value.
    pub fn band(&self, sensitivity: &Sensitivity) -> (f64, f64) {
        (
            (self.median - self.spread()).max(0.0),
            self.upper(sensitivity),
        )
    }

    /// Bytes above which an hour is unusual (before the floor).
    pub fn upper(&self, sensitivity: &Sensitivity) -> f64 {
        (self.median + sensitivity.threshold * self.spread())
            .max(sensitivity.min_factor * self.median)
    }
}

/// Whether `bytes` in an hour is unusual against `baseline`: above its upper bound and the floor.
pub fn is_unusual(bytes: u64, baseline: &Baseline, sensitivity: &Sensitivity) -> bool {
    bytes >= sensitivity.floor_bytes && bytes as f64 > baseline.upper(sensitivity)
}

/// How many times its usual an hour is (the median taken as at least one byte).
pub fn factor(bytes: u64, baseline: &Baseline) -> f64 {
    bytes as f64 / baseline.median.max(1.0)
}

/// The hour `history[0]` judged against the same hour of earlier weeks `history[1..]` (nearest
/// first, at most [`WEEKS`]): its baseline when it is unusual.
pub fn judge(current: u64, past: &[u64], sensitivity: &Sensitivity) -> Option<Baseline> {
    let past = &past[..past.len().min(WEEKS)];
    Baseline::of(past).filter(|baseline| is_unusual(current, baseline, sensitivity))
}

/// Whether an application first seen at `first_seen_ms` is new as of `now_ms` (its first hour
/// not yet over) and has moved more than a new application may.
pub fn new_app_alarming(
    first_seen_ms: i64,
    now_ms: i64,
    bytes: u64,
    sensitivity: &Sensitivity,
) -> bool {
    (first_seen_ms..first_seen_ms + HOUR_MS).contains(&now_ms) && bytes > sensitivity.new_app_bytes
}

/// The median of `values` (0 for none).
pub fn median(values: &[f64]) -> f64 {
    median_of(values.to_vec())
}

fn median_of(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => 0.0,
        len if len % 2 == 1 => values[len / 2],
        len => (values[len / 2 - 1] + values[len / 2]) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn median_and_mad_ignore_one_wild_week() {
        let baseline = Baseline::of(&[100, 110, 90, 105, 95, 10_000]).unwrap();
        assert_eq!(baseline.median, 102.5);
        assert_eq!(baseline.mad, 7.5);
        assert!(Baseline::of(&[1, 2]).is_none(), "two weeks are too few");
    }

    #[test]
    fn far_above_and_above_the_floor_is_unusual() {
        let sensitivity = Sensitivity {
            floor_bytes: 1000,
            ..Sensitivity::default()
        };
        let past = [100_000, 120_000, 90_000, 110_000];
        assert!(judge(1_000_000, &past, &sensitivity).is_some());
        assert!(
            judge(150_000, &past, &sensitivity).is_none(),
            "within the usual"
        );
        // 3 KB usually, 30 KB now: ten times as much, but under the floor.
        assert!(judge(30_000, &[3000; 4], &Sensitivity::default()).is_none());
        // A perfectly regular history still tolerates some change.
        assert!(judge(1_400_000, &[1_000_000; 6], &sensitivity).is_none());
        assert!(judge(3_100_000, &[1_000_000; 6], &sensitivity).is_some());
        // Silent at this hour, now far above the floor.
        assert!(judge(50 * MB, &[0; 5], &Sensitivity::default()).is_some());
        assert_eq!(factor(900, &Baseline::of(&[100; 3]).unwrap()), 9.0);
    }

    #[test]
    fn a_new_app_alarms_only_within_its_first_hour() {
        let sensitivity = Sensitivity::default();
        assert!(new_app_alarming(0, 10, 101 * MB, &sensitivity));
        assert!(!new_app_alarming(0, 10, 99 * MB, &sensitivity));
        assert!(!new_app_alarming(0, 3_600_000, 500 * MB, &sensitivity));
    }

    proptest! {
        #[test]
        fn more_bytes_never_make_an_hour_less_unusual(
            past in proptest::collection::vec(0u64..10_000_000, 3..9),
            bytes in 0u64..1_000_000_000,
            more in 0u64..1_000_000_000,
        ) {
            let sensitivity = Sensitivity::default();
            if judge(bytes, &past, &sensitivity).is_some() {
                prop_assert!(judge(bytes + more, &past, &sensitivity).is_some());
            }
        }

        #[test]
        fn the_median_lies_within_the_values(values in proptest::collection::vec(0f64..1e12, 1..20)) {
            let median = median(&values);
            let (low, high) = values.iter().fold((f64::MAX, f64::MIN), |(l, h), v| (l.min(*v), h.max(*v)));
            prop_assert!(low <= median && median <= high);
        }
    }
}

//! The high-usage notification rule: one notification each time today's usage crosses
//! `high_usage_threshold_gb`, never one per sample, unless the daemon keeps a daily budget on
//! everything (whose alerts then say it). And the daemon's alerts (`/api/alerts`:
//! budgets at 80 % and 100 %, unusual hours, new applications) as notifications, each once:
//! [`NewAlerts`] announces only alerts raised after its first look. Pure: the caller shows the
//! notification.

use serde::Deserialize;

use jiff::civil::Date;
use netmon_core::units;

/// Bytes in the configured number of (decimal) gigabytes.
pub fn threshold_bytes(gigabytes: f64) -> u64 {
    (gigabytes * 1e9).round() as u64
}

/// A notification to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub day: Date,
    pub today_bytes: u64,
    pub threshold_bytes: u64,
}

impl Alert {
    pub fn title(&self) -> &'static str {
        "High network usage"
    }

    pub fn body(&self) -> String {
        format!(
            "{} used today, above your daily threshold of {}",
            units::bytes(self.today_bytes),
            units::bytes(self.threshold_bytes)
        )
    }
}

/// A notification as shown: a title and a sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub title: String,
    pub body: String,
}

impl From<&Alert> for Notification {
    fn from(alert: &Alert) -> Self {
        Self {
            title: alert.title().into(),
            body: alert.body(),
        }
    }
}

impl From<&RaisedAlert> for Notification {
    fn from(alert: &RaisedAlert) -> Self {
        Self {
            title: alert.title(),
            body: alert.body().into(),
        }
    }
}

/// The `notify-send` arguments (freedesktop notifications on Linux) for a notification.
pub fn notify_send_args(notification: &Notification) -> Vec<String> {
    vec![
        "--app-name=netmon".into(),
        "--urgency=normal".into(),
        notification.title.clone(),
        notification.body.clone(),
    ]
}

/// Remembers whether today's usage is already above the threshold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HighUsage {
    day: Option<Date>,
    above: bool,
}

impl HighUsage {
    /// Takes today's total so far (local `day`); returns an alert when it has just crossed the
    /// threshold: the first observation at or above it on a day, or again after it fell below
    /// (a raised threshold). Nothing is returned while `enabled` is false, but the crossing is
    /// still remembered, so enabling notifications later does not announce an old crossing.
    pub fn observe(
        &mut self,
        enabled: bool,
        day: Date,
        today_bytes: u64,
        threshold_bytes: u64,
    ) -> Option<Alert> {
        let was_above = self.above && self.day == Some(day);
        let above = today_bytes >= threshold_bytes;
        self.day = Some(day);
        self.above = above;
        (enabled && above && !was_above).then_some(Alert {
            day,
            today_bytes,
            threshold_bytes,
        })
    }
}

/// An alert of the daemon as `/api/alerts` lists it (the fields a notification needs).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RaisedAlert {
    pub id: i64,
    /// `budget`, `unusual` or `new_app`.
    pub kind: String,
    pub subject: String,
    /// 80 or 100 for a budget.
    pub level: Option<u64>,
    pub message: String,
}

impl RaisedAlert {
    /// The notification's title: what happened, to whom.
    pub fn title(&self) -> String {
        match (self.kind.as_str(), self.level) {
            ("budget", Some(100)) => format!("Budget used up: {}", self.subject),
            ("budget", _) => format!("Budget at {} %: {}", self.level.unwrap_or(80), self.subject),
            ("unusual", _) => format!("Unusual for you: {}", self.subject),
            ("new_app", _) => format!("New application: {}", self.subject),
            _ => format!("netmon: {}", self.subject),
        }
    }

    /// The notification's text: the daemon's own sentence.
    pub fn body(&self) -> &str {
        &self.message
    }
}

/// A budget as `/api/budgets` lists it (the fields the menubar needs).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ListedBudget {
    /// `all`, `app` or `domain`.
    pub scope: String,
    /// `day`, `week` or `month`.
    pub period: String,
}

/// Whether the daemon keeps a budget on everything per day: then its alerts (80 % and 100 %,
/// see [`NewAlerts`]) say what the high-usage rule would, and the rule stays silent so the
/// same crossing is not announced twice. `high_usage_threshold_gb` becomes such a budget once
/// per database (docs/alerts.md).
pub fn daily_budget_on_everything(budgets: &[ListedBudget]) -> bool {
    budgets
        .iter()
        .any(|budget| budget.scope == "all" && budget.period == "day")
}

/// Remembers which alerts were announced: the first look only notes the newest (older alerts
/// are history, not news); later looks return the alerts newer than any seen, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewAlerts {
    newest: Option<i64>,
}

impl NewAlerts {
    /// Takes the alerts listed now (any order); returns those to announce when `enabled`.
    pub fn observe(&mut self, enabled: bool, listed: &[RaisedAlert]) -> Vec<RaisedAlert> {
        let newest = listed.iter().map(|alert| alert.id).max();
        let Some(before) = self.newest else {
            self.newest = newest.or(Some(0));
            return Vec::new();
        };
        self.newest = newest.map_or(Some(before), |newest| Some(newest.max(before)));
        let mut fresh: Vec<RaisedAlert> = listed
            .iter()
            .filter(|alert| enabled && alert.id > before)
            .cloned()
            .collect();
        fresh.sort_by_key(|alert| alert.id);
        fresh
    }
}

/// The alerts for a run of observations `(day, today's total so far)` at a fixed threshold.
pub fn alerts(
    observations: impl IntoIterator<Item = (Date, u64)>,
    threshold_bytes: u64,
) -> Vec<Alert> {
    let mut rule = HighUsage::default();
    observations
        .into_iter()
        .filter_map(|(day, today)| rule.observe(true, day, today, threshold_bytes))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    const GB: u64 = 1_000_000_000;

    /// A day of 5-second samples: `per_sample(i)` bytes each, as running totals.
    fn day_of_samples(day: Date, per_sample: impl Fn(u64) -> u64) -> Vec<(Date, u64)> {
        (0..17_280u64)
            .scan(0u64, |total, i| {
                *total += per_sample(i);
                Some((day, *total))
            })
            .collect()
    }

    #[test]
    fn a_day_crossing_the_threshold_once_notifies_once() {
        let day = date(2026, 11, 25);
        // 1 MB every 5 s: 17.28 GB by midnight, crossing 10 GB at sample 10 000.
        let samples = day_of_samples(day, |_| 1_000_000);
        let fired = alerts(samples.clone(), threshold_bytes(10.0));
        assert_eq!(fired.len(), 1, "{fired:?}");
        assert_eq!(fired[0].today_bytes, 10 * GB);
        assert_eq!(fired[0].day, day);
        assert_eq!(
            fired[0].body(),
            "10.0 GB used today, above your daily threshold of 10.0 GB"
        );
        assert!(alerts(Vec::new(), 1).is_empty());
        assert!(
            alerts(samples, threshold_bytes(20.0)).is_empty(),
            "17.28 GB never reaches 20 GB"
        );
    }

    #[test]
    fn quiet_samples_at_the_threshold_do_not_repeat() {
        let day = date(2026, 11, 25);
        let samples = day_of_samples(day, |i| if i < 100 { 100_000_000 } else { 0 });
        assert_eq!(alerts(samples, threshold_bytes(10.0)).len(), 1);
    }

    #[test]
    fn each_day_gets_its_own_crossing() {
        let days = [date(2026, 11, 24), date(2026, 11, 25), date(2026, 11, 26)];
        let samples: Vec<_> = days
            .iter()
            .flat_map(|day| day_of_samples(*day, |_| 1_000_000))
            .collect();
        let fired = alerts(samples, threshold_bytes(10.0));
        assert_eq!(
            fired.iter().map(|alert| alert.day).collect::<Vec<_>>(),
            days
        );
    }

    #[test]
    fn starting_above_the_threshold_notifies_once() {
        let day = date(2026, 11, 25);
        let samples = day_of_samples(day, |i| if i == 0 { 12 * GB } else { 1_000 });
        assert_eq!(alerts(samples, 10 * GB).len(), 1);
    }

    #[test]
    fn a_raised_threshold_can_be_crossed_again() {
        let day = date(2026, 11, 25);
        let mut rule = HighUsage::default();
        assert!(rule.observe(true, day, 11 * GB, 10 * GB).is_some());
        assert!(rule.observe(true, day, 12 * GB, 10 * GB).is_none());
        assert!(rule.observe(true, day, 13 * GB, 20 * GB).is_none());
        assert!(rule.observe(true, day, 21 * GB, 20 * GB).is_some());
    }

    #[test]
    fn disabled_notifications_stay_silent_and_do_not_fire_late() {
        let day = date(2026, 11, 25);
        let mut rule = HighUsage::default();
        assert!(rule.observe(false, day, 11 * GB, 10 * GB).is_none());
        assert!(rule.observe(true, day, 12 * GB, 10 * GB).is_none());
        assert!(rule
            .observe(true, date(2026, 11, 26), 11 * GB, 10 * GB)
            .is_some());
    }

    #[test]
    fn only_a_daily_budget_on_everything_stands_for_the_high_usage_rule() {
        let budget = |scope: &str, period: &str| ListedBudget {
            scope: scope.into(),
            period: period.into(),
        };
        assert!(!daily_budget_on_everything(&[]));
        assert!(!daily_budget_on_everything(&[
            budget("app", "day"),
            budget("all", "month"),
            budget("domain", "day"),
        ]));
        assert!(daily_budget_on_everything(&[
            budget("app", "day"),
            budget("all", "day"),
        ]));
    }

    #[test]
    fn notify_send_gets_the_title_and_body_as_arguments() {
        let alert = Alert {
            day: date(2026, 11, 25),
            today_bytes: 12 * GB,
            threshold_bytes: 10 * GB,
        };
        assert_eq!(
            notify_send_args(&Notification::from(&alert)),
            [
                "--app-name=netmon",
                "--urgency=normal",
                "High network usage",
                "12.0 GB used today, above your daily threshold of 10.0 GB"
            ]
        );
    }

    fn raised(id: i64, kind: &str, level: Option<u64>, message: &str) -> RaisedAlert {
        RaisedAlert {
            id,
            kind: kind.into(),
            subject: "Dropbox".into(),
            level,
            message: message.into(),
        }
    }

    #[test]
    fn daemon_alerts_read_as_notifications() {
        let listed: Vec<RaisedAlert> = serde_json::from_str(
            r#"[{"id": 7, "at_ms": 1, "kind": "budget", "subject": "Dropbox", "budget_id": 2,
                 "level": 80, "bytes": 8, "reference_bytes": 10,
                 "message": "Dropbox has used 80 % of its monthly budget: 40.0 GB of 50.0 GB"}]"#,
        )
        .unwrap();
        assert_eq!(listed[0].title(), "Budget at 80 %: Dropbox");
        assert_eq!(
            listed[0].body(),
            "Dropbox has used 80 % of its monthly budget: 40.0 GB of 50.0 GB"
        );
        assert_eq!(
            raised(1, "budget", Some(100), "").title(),
            "Budget used up: Dropbox"
        );
        assert_eq!(
            raised(1, "unusual", None, "").title(),
            "Unusual for you: Dropbox"
        );
        assert_eq!(
            raised(1, "new_app", None, "").title(),
            "New application: Dropbox"
        );
    }

    #[test]
    fn each_alert_is_announced_once_and_old_ones_never() {
        let mut seen = NewAlerts::default();
        let old = raised(3, "budget", Some(80), "old");
        assert!(
            seen.observe(true, std::slice::from_ref(&old)).is_empty(),
            "history, not news"
        );
        let new = [
            raised(5, "budget", Some(100), "b"),
            raised(4, "unusual", None, "a"),
            old.clone(),
        ];
        let announced = seen.observe(true, &new);
        assert_eq!(announced.iter().map(|a| a.id).collect::<Vec<_>>(), [4, 5]);
        assert!(seen.observe(true, &new).is_empty(), "once per alert");
        assert!(seen
            .observe(false, &[raised(6, "new_app", None, "c")])
            .is_empty());
        assert!(
            seen.observe(true, &[raised(6, "new_app", None, "c")])
                .is_empty(),
            "not late"
        );
        let mut empty = NewAlerts::default();
        assert!(empty.observe(true, &[]).is_empty());
        assert_eq!(
            empty.observe(true, &[old]).len(),
            1,
            "the first alert of a new database"
        );
    }

    #[test]
    fn gigabytes_are_decimal() {
        assert_eq!(threshold_bytes(10.0), 10 * GB);
        assert_eq!(threshold_bytes(0.001), 1_000_000);
    }
}

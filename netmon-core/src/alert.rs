//! What an alert is: its kind, the alert as recorded and streamed, the alert about to be
//! recorded under its unique key, and an unusual hour. Plain values (the store keeps them, the
//! API and CLI show them); `alerts` finds them.

use serde::Serialize;

use crate::anomaly::Baseline;
use crate::budget::Level;

/// What raised an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(
    feature = "openapi",
    derive(poem_openapi::Enum),
    oai(rename = "AlertKind", rename_all = "snake_case")
)]
pub enum AlertKind {
    /// A budget reached 80 % or 100 %.
    Budget,
    /// An application's or domain's hour far above its usual.
    Unusual,
    /// A new application moved a lot in its first hour.
    NewApp,
}

impl AlertKind {
    pub fn name(self) -> &'static str {
        match self {
            Self::Budget => "budget",
            Self::Unusual => "unusual",
            Self::NewApp => "new_app",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Budget, Self::Unusual, Self::NewApp]
            .into_iter()
            .find(|kind| kind.name() == text)
    }
}

/// An alert as recorded.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(
    feature = "openapi",
    derive(poem_openapi::Object),
    oai(skip_serializing_if_is_none)
)]
pub struct Alert {
    pub id: i64,
    pub at_ms: i64,
    pub kind: AlertKind,
    /// The application, the domain, or `everything`.
    pub subject: String,
    /// The budget, for budget alerts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget_id: Option<i64>,
    /// The percentage of the budget reached (80 or 100), for budget alerts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<u64>,
    /// Bytes used (the period so far, the hour, the first hour).
    pub bytes: u64,
    /// What they are compared with: the limit, the usual (median) hour, the new-app limit.
    pub reference_bytes: u64,
    /// One line a person reads.
    pub message: String,
}

/// An alert about to be recorded, under its unique `key`.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAlert {
    pub at_ms: i64,
    pub kind: AlertKind,
    pub key: String,
    pub subject: String,
    pub budget_id: Option<i64>,
    pub level: Option<Level>,
    pub bytes: u64,
    pub reference_bytes: u64,
    pub message: String,
}

impl NewAlert {
    /// The alert as kept under `id`.
    pub fn recorded(&self, id: i64) -> Alert {
        Alert {
            id,
            at_ms: self.at_ms,
            kind: self.kind,
            subject: self.subject.clone(),
            budget_id: self.budget_id,
            level: self.level.map(Level::percent),
            bytes: self.bytes,
            reference_bytes: self.reference_bytes,
            message: self.message.clone(),
        }
    }
}

/// One application or domain whose current hour is unusual.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct Unusual {
    /// `app` or `domain`.
    pub of: String,
    pub name: String,
    pub hour_ms: i64,
    /// Bytes so far this hour.
    pub bytes: u64,
    /// The same hour of past weeks.
    pub baseline: Baseline,
    /// The highest usual value (bytes above it are unusual).
    pub upper_bytes: u64,
    /// Times its usual.
    pub factor: f64,
}

/// The usual band of one hour: from the median less the spread to the highest usual value.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct BandPoint {
    pub hour_ms: i64,
    pub lower_bytes: u64,
    pub median_bytes: u64,
    pub upper_bytes: u64,
}

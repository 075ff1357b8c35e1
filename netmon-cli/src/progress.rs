//! Terminal progress for the long commands (`demo-data`, `export -o FILE`, `purge`, a database
//! migration), drawn by indicatif on stderr. indicatif draws only when stderr is a terminal:
//! piped or redirected (scripts, logs, tests) it writes nothing at all.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use netmon_core::store::{Migration, Store, StoreError};

/// A bar of `len` steps on stderr, drawn with `template` (indicatif's template syntax).
pub fn bar(len: u64, template: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

/// A spinner on stderr saying `message`, for work whose length is unknown (one transaction).
pub fn spinner(message: String) -> ProgressBar {
    let spinner = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    spinner.set_style(
        ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    spinner.set_message(message);
    spinner.enable_steady_tick(Duration::from_millis(100));
    spinner
}

/// Opens the database at `path`, with a bar over the schema migrations an older database
/// needs (none for an up-to-date one, nor for a new one, whose tables are created at once).
pub fn open_store(path: &std::path::Path) -> Result<Store, StoreError> {
    let mut shown: Option<ProgressBar> = None;
    let mut report = |migration: Migration| {
        if migration.first == 1 {
            return;
        }
        let bar = shown.get_or_insert_with(|| {
            bar(
                (migration.target - migration.first + 1) as u64,
                &format!(
                    "upgrading the history database to schema v{}: {{bar:30}} {{pos}}/{{len}} migrations ({{elapsed}})",
                    migration.target
                ),
            )
        });
        bar.set_position((migration.version - migration.first) as u64);
    };
    let store = Store::open_reporting(path, jiff::tz::TimeZone::system(), &mut report);
    if let Some(bar) = shown {
        bar.finish_and_clear();
    }
    store
}

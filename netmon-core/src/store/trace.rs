//! Debug mode's SQL lines (`log_level: DEBUG`): each statement a store connection ran, as its
//! SQL text with `?` for the values (so no hostname or application appears) and how long it
//! took, through SQLite's profile hook (rusqlite's `trace_v2`), into daemon.log.
//!
//! The hook is on every connection from the start, so a live change to DEBUG applies to open
//! connections too. At any other level it costs, per statement run (not per row), SQLite's two
//! clock reads and one level comparison.

use rusqlite::trace::{TraceEvent, TraceEventCodes};
use rusqlite::Connection;

use crate::logging::SQL;

/// Longest statement text written, in characters.
const MAX_STATEMENT: usize = 2000;

/// Logs every statement `connection` runs, with its duration, when debug logging is on.
pub(super) fn install(connection: &mut Connection) -> rusqlite::Result<()> {
    connection.trace_v2(
        TraceEventCodes::SQLITE_TRACE_PROFILE,
        Some(|event: TraceEvent<'_>| {
            if let TraceEvent::Profile(statement, took) = event {
                if tracing::enabled!(target: SQL, tracing::Level::DEBUG) {
                    tracing::debug!(
                        target: SQL,
                        micros = took.as_micros() as u64,
                        "sql {}",
                        one_line(&statement.sql())
                    );
                }
            }
        }),
    )
}

/// The statement on one line: runs of white space become one space; cut at [`MAX_STATEMENT`].
fn one_line(sql: &str) -> String {
    let words: Vec<&str> = sql.split_whitespace().collect();
    words.join(" ").chars().take(MAX_STATEMENT).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn statements_are_written_on_one_line() {
        assert_eq!(
            super::one_line("SELECT a,\n       b\n  FROM t WHERE x = ?1"),
            "SELECT a, b FROM t WHERE x = ?1"
        );
        assert_eq!(super::one_line(&"x ".repeat(5000)).len(), 2000);
    }
}

//! Crash safety: a child process writing batches is killed with SIGKILL at varying moments,
//! twenty times; after each kill the database is intact and holds exactly the batches that
//! committed (the batch in flight may or may not have), never part of one, in every tier.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use jiff::tz::TimeZone;
use netmon_core::sample::{SampleStats, Usage};
use netmon_core::store::{Range, Store};
use netmon_core::{Direction, Sample};

const CHILD_ENV: &str = "NETMON_CRASH_CHILD_DB";
const SAMPLES_PER_BATCH: u64 = 50;
const BYTES_PER_SAMPLE: u64 = 1000;
const BATCH_BYTES: u64 = SAMPLES_PER_BATCH * BYTES_PER_SAMPLE;

fn batch(index: u64) -> Vec<Sample> {
    (0..SAMPLES_PER_BATCH)
        .map(|i| {
            let start_ms = ((index * SAMPLES_PER_BATCH + i) * 5000) as i64;
            Sample {
                start_ms,
                end_ms: start_ms + 5000,
                usage: vec![Usage {
                    app: format!("app{}", i % 7),
                    destination: None,
                    direction: Direction::Received,
                    bytes: BYTES_PER_SAMPLE,
                    packets: 1,
                }],
                processes: vec![],
                stats: SampleStats::default(),
            }
        })
        .collect()
}

/// The child: writes batches forever, printing a line after each commit.
#[test]
fn crash_child() {
    let Some(path) = std::env::var_os(CHILD_ENV) else {
        return; // run by the parent test only
    };
    let mut store = Store::open_in_zone(path.as_ref(), TimeZone::UTC).unwrap();
    let mut stdout = std::io::stdout();
    // Until the parent kills this process.
    for index in 0.. {
        store.write(&batch(index)).unwrap();
        writeln!(stdout, "batch committed").unwrap();
        stdout.flush().unwrap();
    }
}

fn count_commits(lines: impl Iterator<Item = std::io::Result<String>>) -> u64 {
    lines
        .map_while(Result::ok)
        .filter(|line| line.ends_with("batch committed"))
        .count() as u64
}

fn stored_bytes(path: &std::path::Path) -> u64 {
    let store = Store::open_in_zone(path, TimeZone::UTC).unwrap();
    assert_eq!(store.integrity_check().unwrap(), "ok");
    let all = Range {
        start_ms: 0,
        end_ms: i64::MAX,
    };
    let totals = store.totals(all).unwrap();
    // The raw rows (export) and the hourly and daily totals (a timeline by day) agree.
    let mut raw = 0;
    store
        .export(all, |row| {
            raw += row.bytes;
            Ok::<_, netmon_core::store::StoreError>(())
        })
        .unwrap();
    assert_eq!(raw, totals.received, "raw rows and the daily tier agree");
    let last = Range {
        start_ms: 0,
        end_ms: 40 * 86_400_000,
    };
    let by_hour: u64 = store
        .timeline(last, 3_600_000)
        .unwrap()
        .iter()
        .map(|point| point.received)
        .sum();
    assert_eq!(by_hour, totals.received, "the hourly tier agrees");
    totals.received
}

#[test]
fn killed_writers_lose_at_most_the_batch_in_flight() {
    let temp = tempfile::tempdir().unwrap();
    let path = temp.path().join("crash.db");
    let mut committed_total = 0u64;
    for round in 0..20u64 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "crash_child",
                "--nocapture",
                "--test-threads",
                "1",
            ])
            .env(CHILD_ENV, &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        // Let it commit a varying number of batches, then kill it at a varying moment.
        let wanted = 1 + (round * 7) % 5;
        let mut committed = count_commits(lines.by_ref().take(wanted as usize));
        std::thread::sleep(Duration::from_micros((round * 1373) % 4000));
        child.kill().unwrap();
        child.wait().unwrap();
        // Every commit the child reported before it died.
        committed += count_commits(lines);
        committed_total += committed;
        let stored = stored_bytes(&path);
        assert_eq!(
            stored % BATCH_BYTES,
            0,
            "round {round}: a partial batch is on disk"
        );
        let stored_batches = stored / BATCH_BYTES;
        assert!(
            stored_batches >= committed_total && stored_batches <= committed_total + 1,
            "round {round}: {stored_batches} batches on disk, {committed_total} reported committed"
        );
        // A batch that committed before the kill but after its last report counts from now on.
        committed_total = stored_batches;
    }
}

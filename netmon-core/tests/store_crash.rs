//! Crash safety of the writer: a child process (this test binary, re-executed in "writer
//! child" mode) writes batches and reports each one after it commits; it is killed with
//! SIGKILL at random moments, and must lose at most the batch in flight and duplicate none.
//! A SIGTERM run must lose nothing.

#![cfg(unix)]

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use jiff::Timestamp;
use netmon_core::sample::{Destination, Direction, Sample, SampleStats, Usage};
use netmon_core::store::query::AppSort;
use netmon_core::store::{BatchWriter, Store, TimeRange};

/// Selects the child's mode: `crash <db> <run>` or `term <db>`.
const CHILD_ENV: &str = "NETMON_STORE_WRITER_CHILD";
const SAMPLES_PER_BATCH: i64 = 10;
/// 2025-01-01T00:00:00Z.
const EPOCH: i64 = 1_735_689_600;

/// Sample `index` of run `run`: 5 seconds long, bytes that identify it, a hostname on odd ones.
fn sample(run: i64, index: i64) -> Sample {
    let start = EPOCH + run * 10_000_000 + index * 5;
    let destination = (index % 2 == 1).then(|| Destination {
        host: format!("h{}.example.org", index % 7),
        domain: "example.org".into(),
    });
    Sample {
        start_ms: start * 1000,
        end_ms: (start + 5) * 1000,
        usage: vec![Usage {
            app: format!("app{}", index % 5),
            destination,
            direction: Direction::Received,
            bytes: sample_bytes(index),
            packets: 1,
        }],
        processes: vec![],
        stats: SampleStats::default(),
    }
}

fn sample_bytes(index: i64) -> u64 {
    1000 + index as u64 % 977
}

fn batch_bytes(batch: i64) -> u64 {
    (0..SAMPLES_PER_BATCH)
        .map(|k| sample_bytes(batch * SAMPLES_PER_BATCH + k))
        .sum()
}

static TERMINATED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigterm(_: libc::c_int) {
    TERMINATED.store(true, Ordering::SeqCst);
}

/// The child's entry point; does nothing unless [`CHILD_ENV`] is set.
#[test]
fn writer_child() {
    let Ok(mode) = std::env::var(CHILD_ENV) else {
        return;
    };
    let args: Vec<&str> = mode.split('\t').collect();
    let mut out = std::io::stdout().lock();
    match args.as_slice() {
        ["crash", db, run] => {
            let mut store = Store::open(Path::new(db)).unwrap();
            writeln!(out, "\nready").unwrap();
            let run: i64 = run.parse().unwrap();
            for batch in 0.. {
                let samples: Vec<Sample> = (0..SAMPLES_PER_BATCH)
                    .map(|k| sample(run, batch * SAMPLES_PER_BATCH + k))
                    .collect();
                store.write_batch(&samples).unwrap();
                writeln!(out, "committed {batch}").unwrap();
                out.flush().unwrap();
            }
        }
        ["term", db] => {
            // SAFETY: the handler only stores to an atomic.
            unsafe { libc::signal(libc::SIGTERM, on_sigterm as *const () as libc::sighandler_t) };
            let store = Store::open(Path::new(db)).unwrap();
            let mut writer = BatchWriter::new(store, Duration::from_secs(30));
            writeln!(out, "\nready").unwrap();
            for index in 0.. {
                if TERMINATED.load(Ordering::SeqCst) {
                    break;
                }
                writer.push(sample(0, index)).unwrap();
                writeln!(out, "pushed {index}").unwrap();
                out.flush().unwrap();
                std::thread::sleep(Duration::from_millis(1));
            }
            writer.close().unwrap();
            writeln!(out, "closed").unwrap();
        }
        other => panic!("unknown child mode {other:?}"),
    }
}

fn spawn_child(mode: &str) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "writer_child", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, mode)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Lines the child printed, read until it exits.
fn lines_of(child: &mut Child) -> impl Iterator<Item = String> {
    BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map_while(Result::ok)
}

/// Bytes of every application over all time, as the queries see them.
fn bytes_on_disk(db: &Path) -> u64 {
    let store = Store::open(db).unwrap();
    assert_eq!(store.integrity_check().unwrap(), "ok");
    let all = TimeRange::new(
        Timestamp::UNIX_EPOCH,
        Timestamp::from_second(4_000_000_000).unwrap(),
    )
    .unwrap();
    store
        .top_apps(&all, 100, AppSort::Total)
        .unwrap()
        .iter()
        .map(|app| app.traffic.total)
        .sum()
}

/// SplitMix64, to pick the kill moments reproducibly.
fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let z = (*state ^ (*state >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    let z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[test]
fn sigkill_at_random_moments_loses_at_most_the_batch_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("network_monitor.db");
    let mut rng = 0x5EED_u64;
    let mut expected = 0u64;
    for run in 0..20 {
        let mut child = spawn_child(&format!("crash\t{}\t{run}", db.display()));
        let mut lines = lines_of(&mut child);
        // Some runs are killed while opening, the others while writing.
        let wait_until_ready = run % 4 != 0;
        if wait_until_ready {
            assert!(lines.any(|line| line == "ready"), "run {run}");
        }
        std::thread::sleep(Duration::from_millis(next(&mut rng) % 120));
        child.kill().unwrap();
        child.wait().unwrap();
        let committed = lines.filter(|line| line.starts_with("committed ")).count() as i64;
        let reported: u64 = (0..committed).map(batch_bytes).sum();
        let on_disk = bytes_on_disk(&db) - expected;
        let in_flight = batch_bytes(committed);
        assert!(
            on_disk == reported || on_disk == reported + in_flight,
            "run {run}: {committed} batches reported ({reported} bytes), {on_disk} bytes on disk"
        );
        expected += on_disk;
    }
    assert!(
        expected > 0,
        "no run committed anything; the kills came too early"
    );
}

#[test]
fn sigterm_flushes_everything_pushed() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("network_monitor.db");
    let mut child = spawn_child(&format!("term\t{}", db.display()));
    let mut lines = lines_of(&mut child);
    assert!(lines.any(|line| line == "ready"));
    let mut pushed: Vec<i64> = lines
        .by_ref()
        .filter_map(|line| line.strip_prefix("pushed ").map(|n| n.parse().unwrap()))
        .take(57)
        .collect();
    // SAFETY: signalling our own child.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    let rest: Vec<String> = lines.collect();
    assert!(child.wait().unwrap().success());
    assert!(rest.iter().any(|line| line == "closed"), "{rest:?}");
    pushed.extend(rest.iter().filter_map(|line| {
        line.strip_prefix("pushed ")
            .map(|n| n.parse::<i64>().unwrap())
    }));
    let expected: u64 = pushed.iter().map(|&index| sample_bytes(index)).sum();
    assert_eq!(bytes_on_disk(&db), expected);
}

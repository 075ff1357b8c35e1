//! Faults under real capture: netmon killed mid-capture, a full disk, the database deleted under
//! the daemon. History must stay intact and continue, and nothing already sampled may be lost
//! when the fault clears.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use support::{total_bytes, Lab, SERVER_V4};

/// netmon's home in a lab, with a configuration that writes a batch every second.
fn home_writing_every_second(lab: &Lab) -> PathBuf {
    let home = lab.temp.path().join("netmon-home");
    fs::create_dir_all(&home).unwrap();
    fs::write(home.join("config.json"), r#"{"batch_write_seconds": 1}"#).unwrap();
    home
}

fn download(lab: &Lab, bytes: u64) {
    let mut get = lab.command(&lab.client, "curl");
    get.args(["-sS", "-o", "/dev/null"])
        .arg(format!("http://{SERVER_V4}:8080/bytes/{bytes}"));
    lab.run(get);
}

fn log_text(home: &Path) -> String {
    fs::read_to_string(home.join("logs/daemon.log")).unwrap_or_default()
}

/// Waits until the daemon's log contains `text`.
fn wait_for_log(home: &Path, text: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !log_text(home).contains(text) {
        assert!(
            Instant::now() < deadline,
            "the log never said {text:?}:\n{}",
            log_text(home)
        );
        thread::sleep(Duration::from_millis(100));
    }
}

fn send_signal(pid: u32, signal: &str) {
    let sent = Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .expect("kill");
    assert!(sent.success());
}

#[test]
fn killed_during_heavy_capture_the_history_stays_intact_and_continues() {
    let mut lab = Lab::new();
    lab.start_http_server(8080);
    lab.start_iperf_server(5201);
    home_writing_every_second(&lab);

    let first_run = lab.start_netmon(1);
    first_run.wait_ready();
    let mut heavy = lab.command(&lab.client, "iperf3");
    heavy.args(["-c", SERVER_V4, "-p", "5201", "-t", "4"]);
    lab.spawn(heavy);
    thread::sleep(Duration::from_millis(2500));
    send_signal(first_run.pid(), "-KILL");
    drop(first_run);
    thread::sleep(Duration::from_secs(2));
    let after_kill = lab.stored_totals();
    assert!(
        after_kill.received + after_kill.sent > 0,
        "batches written before the kill are kept"
    );

    let second_run = lab.start_netmon(1);
    let first = second_run.wait_ready();
    download(&lab, 3_000_000);
    thread::sleep(Duration::from_millis(1500));
    let samples = second_run.stop(first);
    let after_restart = lab.stored_totals();
    assert_eq!(
        after_restart.sent + after_restart.received - after_kill.sent - after_kill.received,
        total_bytes(&samples),
        "the restarted daemon adds every sample it took to the history it found"
    );
    assert!(total_bytes(&samples) > 3_000_000);
}

/// A small tmpfs mounted for the test and unmounted when dropped.
struct SmallDisk(PathBuf);

impl SmallDisk {
    fn mount(at: &Path, size: &str) -> SmallDisk {
        fs::create_dir_all(at).unwrap();
        let status = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(at)
            .status()
            .expect("mount");
        assert!(status.success(), "cannot mount a tmpfs at {}", at.display());
        SmallDisk(at.to_path_buf())
    }

    /// Writes a file until the disk is full.
    fn fill(&self) -> PathBuf {
        let filler = self.0.join("filler");
        let _ = Command::new("dd")
            .args(["if=/dev/zero", "bs=64k"])
            .arg(format!("of={}", filler.display()))
            .output();
        filler
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_delays_history_and_loses_nothing() {
    let mut lab = Lab::new();
    lab.start_http_server(8080);
    let home = lab.temp.path().join("netmon-home");
    let disk = SmallDisk::mount(&home, "3m");
    // Logs live elsewhere, so the error can be read while the disk is full.
    let logs = lab.temp.path().join("logs");
    fs::create_dir_all(&logs).unwrap();
    std::os::unix::fs::symlink(&logs, home.join("logs")).unwrap();
    home_writing_every_second(&lab);

    let netmon = lab.start_netmon(1);
    let first = netmon.wait_ready();
    download(&lab, 1_000_000);
    thread::sleep(Duration::from_millis(2500));
    let filler = disk.fill();
    // Many applications make batches that need new pages.
    (0..8).for_each(|n| {
        let program = lab.program_named("curl", &format!("full{n}"));
        let mut get = lab.command(&lab.client, &program);
        get.args(["-sS", "-o", "/dev/null"])
            .arg(format!("http://{SERVER_V4}:8080/bytes/200000"));
        lab.run(get);
    });
    wait_for_log(&home, "cannot write to the database");
    fs::remove_file(filler).unwrap();
    download(&lab, 1_000_000);
    thread::sleep(Duration::from_millis(2500));

    let samples = netmon.stop(first);
    let stored = lab.stored_totals();
    assert_eq!(
        stored.sent + stored.received,
        total_bytes(&samples),
        "every sample taken while the disk was full reaches the database once space returns"
    );
    let log = log_text(&home);
    assert!(log.contains("full"), "the error names the cause: {log}");
}

#[test]
fn a_deleted_database_is_reported_and_started_anew_without_a_crash() {
    let mut lab = Lab::new();
    lab.start_http_server(8080);
    let home = home_writing_every_second(&lab);
    let netmon = lab.start_netmon(1);
    let first = netmon.wait_ready();
    download(&lab, 1_000_000);
    thread::sleep(Duration::from_millis(2000));

    [
        "network_monitor.db",
        "network_monitor.db-wal",
        "network_monitor.db-shm",
    ]
    .iter()
    .for_each(|name| {
        let _ = fs::remove_file(home.join(name));
    });
    wait_for_log(&home, "database file was removed");
    download(&lab, 2_000_000);
    thread::sleep(Duration::from_millis(2500));
    let pid = netmon.pid();
    assert!(
        Path::new(&format!("/proc/{pid}")).exists(),
        "the daemon is still running"
    );
    netmon.stop(first);
    let stored = lab.stored_totals();
    assert!(
        stored.sent + stored.received > 2_000_000,
        "the new database holds what came after: {stored:?}"
    );
}

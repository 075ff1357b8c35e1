//! End to end: `sudo netmon run` opens the capture as root, then becomes the user sudo ran it
//! for. Its files are that user's, it cannot regain root, and it still attributes the bytes of
//! another user's (root's) process through the two capabilities it keeps.

mod support;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;
use std::time::Duration;

use support::{assert_within, bytes_of_app, Lab, Netmon, SERVER_V4};

/// CAP_DAC_READ_SEARCH (2) and CAP_SYS_PTRACE (19): the socket-owner lookup's capabilities.
const LOOKUP_CAPABILITIES: u64 = (1 << 2) | (1 << 19);

fn id_of(flag: &str, user: &str) -> u32 {
    let output = Command::new("id")
        .args([flag, user])
        .output()
        .expect("run id");
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .expect("a numeric id")
}

/// A field of /proc/PID/status, such as `Uid` or `CapEff`.
fn status_field(pid: u32, field: &str) -> String {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).expect("read the status");
    status
        .lines()
        .find_map(|line| line.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
        .trim()
        .to_string()
}

fn assert_owned_by(path: &Path, uid: u32) {
    let metadata = fs::metadata(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    assert_eq!(
        metadata.uid(),
        uid,
        "{} belongs to the user",
        path.display()
    );
    assert_eq!(
        metadata.mode() & 0o077,
        0,
        "{} is owner-only",
        path.display()
    );
}

#[test]
fn started_by_sudo_it_captures_as_root_then_runs_as_the_user() {
    let (uid, gid) = (id_of("-u", "nobody"), id_of("-g", "nobody"));
    let mut lab = Lab::new();
    lab.start_http_server(8080);
    let download = lab.program_named("curl", "rootdl");
    fs::set_permissions(lab.temp.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let home = lab.temp.path().join("netmon-home");
    fs::create_dir(&home).unwrap();
    std::os::unix::fs::chown(&home, Some(uid), Some(gid)).unwrap();

    let mut command = lab.command(&lab.client, env!("CARGO_BIN_EXE_netmon"));
    command
        .args(["run", "--json", "--interval", "1"])
        .env("NETMON_HOME", &home)
        .env("SUDO_UID", uid.to_string())
        .env("SUDO_GID", gid.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let netmon = Netmon::start(command);
    let first = netmon.wait_ready();

    let ids = format!("{uid}\t{uid}\t{uid}\t{uid}");
    assert_eq!(
        status_field(netmon.pid(), "Uid"),
        ids,
        "real, effective, saved and fs uid"
    );
    let group_ids = format!("{gid}\t{gid}\t{gid}\t{gid}");
    assert_eq!(status_field(netmon.pid(), "Gid"), group_ids);
    ["CapEff", "CapPrm"].iter().for_each(|set| {
        let capabilities = u64::from_str_radix(&status_field(netmon.pid(), set), 16).unwrap();
        assert_eq!(
            capabilities, LOOKUP_CAPABILITIES,
            "{set}: only the lookup's capabilities"
        );
    });

    let before = lab.counters();
    let mut get = lab.command(&lab.client, &download);
    get.args(["-sS", "-o", "/dev/null"])
        .arg(format!("http://{SERVER_V4}:8080/bytes/5000000"));
    lab.run(get);
    thread::sleep(Duration::from_millis(400));
    let after = lab.counters();
    thread::sleep(Duration::from_millis(1200));

    let samples = netmon.stop(first);
    support::print_apps(&samples);
    assert_within(
        "rootdl (a root process, seen by netmon running as nobody)",
        bytes_of_app(&samples, "rootdl"),
        after.ip_bytes_since(&before),
        1.0,
    );
    [
        home.join("config.json"),
        home.join("network_monitor.db"),
        home.join("logs"),
        home.join("logs/daemon.log"),
    ]
    .iter()
    .for_each(|path| assert_owned_by(path, uid));
}

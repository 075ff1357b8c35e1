//! A two-host lab in Linux network namespaces for end-to-end tests: a client and a server
//! joined by a veth pair, with IPv4 and IPv6 addresses, torn down when dropped (even when the
//! test fails).

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use netmon_core::Sample;

pub const SERVER_V4: &str = "10.200.0.1";
pub const CLIENT_V4: &str = "10.200.0.2";
pub const SERVER_V6: &str = "fd00:200::1";
pub const CLIENT_V6: &str = "fd00:200::2";
/// Ethernet header bytes per frame, which the veth counters include and IP lengths do not.
pub const ETHERNET_HEADER: u64 = 14;

static LABS: AtomicUsize = AtomicUsize::new(0);

/// Byte and packet counters of an interface.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub rx_packets: u64,
    pub tx_packets: u64,
}

impl Counters {
    /// Bytes that crossed an interface without link headers (a tun device) between `earlier`
    /// and `self`: its IP bytes.
    pub fn bytes_since(&self, earlier: &Counters) -> u64 {
        self.rx_bytes + self.tx_bytes - earlier.rx_bytes - earlier.tx_bytes
    }

    /// IP bytes that crossed the interface between `earlier` and `self`.
    pub fn ip_bytes_since(&self, earlier: &Counters) -> u64 {
        let bytes = self.rx_bytes + self.tx_bytes - earlier.rx_bytes - earlier.tx_bytes;
        let frames = self.rx_packets + self.tx_packets - earlier.rx_packets - earlier.tx_packets;
        bytes - ETHERNET_HEADER * frames
    }
}

/// Two namespaces joined by a veth pair.
pub struct Lab {
    pub client: String,
    pub server: String,
    pub client_if: String,
    server_if: String,
    children: Vec<Child>,
    pub temp: tempfile::TempDir,
}

impl Lab {
    pub fn new() -> Lab {
        assert!(
            is_root(),
            "this end-to-end test builds network namespaces and needs root (CI runs as root)"
        );
        let id = format!(
            "{}{}",
            std::process::id(),
            LABS.fetch_add(1, Ordering::SeqCst)
        );
        let lab = Lab {
            client: format!("nmc{id}"),
            server: format!("nms{id}"),
            client_if: format!("vc{id}"),
            server_if: format!("vs{id}"),
            children: Vec::new(),
            temp: tempfile::tempdir().expect("temporary directory"),
        };
        lab.build();
        lab
    }

    fn build(&self) {
        let (c, s, cif) = (&self.client, &self.server, &self.client_if);
        let server_if = self.server_if.as_str();
        let steps: Vec<Vec<&str>> = vec![
            vec!["netns", "add", c],
            vec!["netns", "add", s],
            vec![
                "link", "add", cif, "netns", c, "type", "veth", "peer", "name", server_if, "netns",
                s,
            ],
            vec!["-n", c, "addr", "add", "10.200.0.2/24", "dev", cif],
            vec!["-n", s, "addr", "add", "10.200.0.1/24", "dev", server_if],
            vec![
                "-n",
                c,
                "addr",
                "add",
                "fd00:200::2/64",
                "dev",
                cif,
                "nodad",
            ],
            vec![
                "-n",
                s,
                "addr",
                "add",
                "fd00:200::1/64",
                "dev",
                server_if,
                "nodad",
            ],
            vec!["-n", c, "link", "set", "lo", "up"],
            vec!["-n", s, "link", "set", "lo", "up"],
            vec!["-n", c, "link", "set", cif, "up"],
            vec!["-n", s, "link", "set", server_if, "up"],
        ];
        steps.iter().for_each(|args| run_ip(args));
    }

    /// A command run inside namespace `ns`.
    pub fn command(&self, ns: &str, program: impl AsRef<Path>) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", ns]).arg(program.as_ref());
        command
    }

    /// Starts a long-running process that the lab stops when dropped.
    pub fn spawn(&mut self, mut command: Command) {
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start a lab process");
        self.children.push(child);
    }

    /// Runs a command to completion; panics with its output if it fails.
    pub fn run(&self, mut command: Command) -> Output {
        let output = command.output().expect("run a lab command");
        assert!(
            output.status.success(),
            "{command:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }

    /// Waits until something listens on `port` (TCP or UDP) in the server namespace.
    pub fn wait_for_listener(&self, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            let output = Command::new("ip")
                .args(["netns", "exec", &self.server, "ss", "-Hltun"])
                .output()
                .expect("run ss");
            let text = String::from_utf8_lossy(&output.stdout);
            if text.contains(&format!(":{port} ")) {
                return;
            }
            thread::sleep(Duration::from_millis(50));
        }
        panic!("nothing listens on port {port} in the server namespace");
    }

    /// The client veth's counters.
    pub fn counters(&self) -> Counters {
        self.counters_of(&self.client, &self.client_if)
    }

    /// The counters of `interface` in namespace `ns`.
    pub fn counters_of(&self, ns: &str, interface: &str) -> Counters {
        let output = Command::new("ip")
            .args(["-n", ns, "-s", "-j", "link", "show", "dev", interface])
            .output()
            .expect("run ip link");
        let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("ip -j output");
        let stats = &json[0]["stats64"];
        let number =
            |direction: &str, what: &str| stats[direction][what].as_u64().expect("counter");
        Counters {
            rx_bytes: number("rx", "bytes"),
            tx_bytes: number("tx", "bytes"),
            rx_packets: number("rx", "packets"),
            tx_packets: number("tx", "packets"),
        }
    }

    /// Copies a program under a new name, so its traffic is told apart by application name.
    pub fn program_named(&self, program: &str, name: &str) -> PathBuf {
        let source = which(program);
        let target = self.temp.path().join(name);
        std::fs::copy(&source, &target).expect("copy a program");
        target
    }

    /// Starts the test HTTP server on `port` in the server namespace.
    pub fn start_http_server(&mut self, port: u16) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/http_server.py");
        let mut command = self.command(&self.server.clone(), "python3");
        command.arg(script).arg(port.to_string());
        self.spawn(command);
        self.wait_for_listener(port);
    }

    /// Starts the test HTTP server over TLS on `port`, with a certificate for `name` (a steady
    /// sender on slow links, unlike `openssl s_server -WWW`).
    pub fn start_https_server(&mut self, name: &str, port: u16) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/http_server.py");
        let (cert, key) = self.self_signed_certificate(name);
        let mut command = self.command(&self.server.clone(), "python3");
        command.arg(script).arg(port.to_string()).arg(cert).arg(key);
        self.spawn(command);
        self.wait_for_listener(port);
    }

    /// Starts an iperf3 server on `port` in the server namespace.
    pub fn start_iperf_server(&mut self, port: u16) {
        let mut iperf = self.command(&self.server.clone(), "iperf3");
        iperf.args(["-s", "-p", &port.to_string()]);
        self.spawn(iperf);
        self.wait_for_listener(port);
    }

    /// Totals in the database of the netmon this lab ran.
    pub fn stored_totals(&self) -> netmon_core::store::Totals {
        let path = self.temp.path().join("netmon-home/network_monitor.db");
        let store = netmon_core::store::Store::open(&path).expect("open the database");
        assert_eq!(store.integrity_check().expect("integrity check"), "ok");
        let all = netmon_core::store::Range {
            start_ms: 0,
            end_ms: i64::MAX,
        };
        store.totals(all).expect("totals")
    }

    /// Starts `netmon run --json` capturing in the client namespace.
    pub fn start_netmon(&self, interval_seconds: u64) -> Netmon {
        let home = self.temp.path().join("netmon-home");
        let mut command = self.command(&self.client, env!("CARGO_BIN_EXE_netmon"));
        command
            .args(["run", "--json", "--interval", &interval_seconds.to_string()])
            .env("NETMON_HOME", &home)
            .env_remove("SUDO_UID")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        Netmon::start(command)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.children.iter_mut().for_each(|child| {
            let _ = child.kill();
            let _ = child.wait();
        });
        [&self.client, &self.server].iter().for_each(|ns| {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        });
    }
}

/// A running `netmon run --json` and the samples it printed.
pub struct Netmon {
    child: Child,
    samples: mpsc::Receiver<Sample>,
    stderr: Option<thread::JoinHandle<String>>,
}

impl Netmon {
    /// Starts `command` (a `netmon run --json`) and reads the samples it prints.
    pub fn start(mut command: Command) -> Netmon {
        let mut child = command.spawn().expect("start netmon");
        let stdout = child.stdout.take().expect("netmon stdout");
        let stderr = child.stderr.take().expect("netmon stderr");
        let (sender, samples) = mpsc::channel();
        thread::spawn(move || {
            BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .map(|line| serde_json::from_str::<Sample>(&line).expect("a JSON sample line"))
                .for_each(|sample| {
                    let _ = sender.send(sample);
                });
        });
        let stderr = thread::spawn(move || std::io::read_to_string(stderr).unwrap_or_default());
        Netmon {
            child,
            samples,
            stderr: Some(stderr),
        }
    }

    /// The process id of netmon.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the first sample: capture is running.
    pub fn wait_ready(&self) -> Sample {
        self.samples
            .recv_timeout(Duration::from_secs(20))
            .expect("netmon printed no sample within 20 s")
    }

    /// The next sample printed, waiting up to `timeout`.
    pub fn next_sample(&self, timeout: Duration) -> Option<Sample> {
        self.samples.recv_timeout(timeout).ok()
    }

    /// Sends SIGINT, waits for a clean exit and returns every sample printed.
    pub fn stop(self, first: Sample) -> Vec<Sample> {
        self.stop_with_signal("INT", first)
    }
}

impl Drop for Netmon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Bytes per application over all samples.
pub fn bytes_of_app(samples: &[Sample], app: &str) -> u64 {
    samples
        .iter()
        .flat_map(|sample| sample.usage.iter())
        .filter(|usage| usage.app == app)
        .map(|usage| usage.bytes)
        .sum()
}

/// Prints bytes per application and the sample counters, for a failing test's log.
pub fn print_apps(samples: &[Sample]) {
    let mut apps: Vec<&str> = samples
        .iter()
        .flat_map(|sample| sample.usage.iter().map(|usage| usage.app.as_str()))
        .collect();
    apps.sort_unstable();
    apps.dedup();
    apps.iter()
        .for_each(|app| eprintln!("  {app}: {} bytes", bytes_of_app(samples, app)));
    samples
        .iter()
        .for_each(|sample| eprintln!("  stats: {:?}", sample.stats));
}

/// Bytes over all samples and applications.
pub fn total_bytes(samples: &[Sample]) -> u64 {
    samples.iter().map(|sample| sample.stats.bytes).sum()
}

/// Asserts `actual` is within `percent` % of `expected`.
pub fn assert_within(what: &str, actual: u64, expected: u64, percent: f64) {
    let error = (actual as f64 - expected as f64).abs() / expected.max(1) as f64 * 100.0;
    assert!(
        error <= percent,
        "{what}: netmon counted {actual} bytes, the interface {expected} ({error:.2} % apart, allowed {percent} %)"
    );
    eprintln!("{what}: netmon {actual} B, interface {expected} B, {error:.3} % apart");
}

fn run_ip(args: &[&str]) {
    let output = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        output.status.success(),
        "ip {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).trim() == "0")
        .unwrap_or(false)
}

fn which(program: &str) -> PathBuf {
    if Path::new(program).is_absolute() {
        return PathBuf::from(program);
    }
    std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| panic!("{program} is not installed (the CI script installs it)"))
}

impl Lab {
    /// The home directory (`NETMON_HOME`) of the netmon this lab runs.
    pub fn netmon_home(&self) -> PathBuf {
        self.temp.path().join("netmon-home")
    }

    /// Writes `config` as the `config.json` of the netmon this lab runs.
    pub fn write_config(&self, config: &netmon_core::Config) {
        let home = self.netmon_home();
        std::fs::create_dir_all(&home).expect("create the netmon home");
        config
            .save(&home.join("config.json"))
            .expect("write config.json");
    }

    /// The server namespace's veth.
    fn server_veth(&self) -> String {
        let output = Command::new("ip")
            .args(["-n", &self.server, "-j", "link", "show", "type", "veth"])
            .output()
            .expect("run ip link");
        let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("ip -j output");
        json[0]["ifname"]
            .as_str()
            .expect("the server namespace has a veth")
            .to_string()
    }

    /// Adds an address (`10.200.0.11/24`) to the server's veth.
    pub fn add_server_address(&self, cidr: &str) {
        let veth = self.server_veth();
        run_ip(&["-n", &self.server, "addr", "add", cidr, "dev", &veth]);
    }

    /// Sets the MTU of both ends of the veth (jumbo frames: UDP datagrams up to it cross
    /// unfragmented).
    pub fn set_mtu(&self, mtu: u16) {
        let mtu = mtu.to_string();
        let server_veth = self.server_veth();
        run_ip(&[
            "-n",
            &self.client,
            "link",
            "set",
            "dev",
            &self.client_if,
            "mtu",
            &mtu,
        ]);
        run_ip(&[
            "-n",
            &self.server,
            "link",
            "set",
            "dev",
            &server_veth,
            "mtu",
            &mtu,
        ]);
    }

    /// Asks the lab's DNS server (see [`Lab::start_dns`]) from the client namespace for
    /// `name`'s A records over UDP with a 4096-byte EDNS buffer; returns the response's size and
    /// the addresses in the order they arrived.
    pub fn query_dns(&self, name: &str) -> (usize, Vec<String>) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/dns_query.py");
        let mut command = self.command(&self.client, "python3");
        command.arg(script).args([SERVER_V4, name]);
        let output = String::from_utf8(self.run(command).stdout).expect("UTF-8 output");
        let mut lines = output.lines();
        let size = lines
            .next()
            .and_then(|line| line.strip_prefix("size "))
            .and_then(|size| size.parse().ok())
            .unwrap_or_else(|| panic!("no size in the query's output: {output}"));
        (size, lines.map(str::to_string).collect())
    }

    /// Makes the client send TCP segments of at most `mss` bytes, as captured: the server
    /// advertises that segment size, and the client veth hands the capture one segment per packet
    /// (no segmentation offload, which would show the capture one large packet instead).
    pub fn limit_client_segments(&self, mss: u16) {
        run_ip(&[
            "-n",
            &self.client,
            "link",
            "set",
            "dev",
            &self.client_if,
            "gso_max_segs",
            "1",
        ]);
        let veth = self.server_veth();
        let mss = mss.to_string();
        run_ip(&[
            "-n",
            &self.server,
            "route",
            "replace",
            &format!("{CLIENT_V4}/32"),
            "dev",
            &veth,
            "advmss",
            &mss,
        ]);
    }

    /// Shapes what the server sends to `rate` (a `tc` rate such as `3mbit`), so downloads last
    /// on the wire instead of filling the client's buffers at once. The burst holds a whole
    /// 64 KiB segmentation-offload packet, which tbf would otherwise drop every time.
    pub fn limit_server_rate(&self, rate: &str) {
        let veth = self.server_veth();
        let mut tc = Command::new("tc");
        tc.args([
            "-n",
            &self.server,
            "qdisc",
            "replace",
            "dev",
            &veth,
            "root",
            "tbf",
        ])
        .args(["rate", rate, "burst", "128kb", "latency", "1s"]);
        self.run(tc);
    }

    /// Starts dnsmasq on the server's address, answering each (name, address) and nothing else,
    /// and points the client namespace's resolver at it (`ip netns exec` bind-mounts
    /// /etc/netns/CLIENT/resolv.conf). The returned guard removes that file.
    pub fn start_dns(&mut self, answers: &[(&str, &str)]) -> NetnsResolver {
        let mut dnsmasq = self.command(&self.server.clone(), "/usr/sbin/dnsmasq");
        dnsmasq.args([
            "--keep-in-foreground",
            "--conf-file=/dev/null",
            "--no-resolv",
            "--no-hosts",
            "--bind-interfaces",
            "--pid-file=",
            "--port=53",
            // Answers as large as the EDNS buffers clients offer (4096), sent whole over UDP.
            "--edns-packet-max=4096",
        ]);
        dnsmasq.arg(format!("--listen-address={SERVER_V4}"));
        answers.iter().for_each(|(name, address)| {
            dnsmasq.arg(format!("--address=/{name}/{address}"));
        });
        self.spawn(dnsmasq);
        self.wait_for_listener(53);
        let dir = PathBuf::from("/etc/netns").join(&self.client);
        std::fs::create_dir_all(&dir).expect("create /etc/netns/CLIENT");
        std::fs::write(dir.join("resolv.conf"), format!("nameserver {SERVER_V4}\n"))
            .expect("write the client namespace's resolv.conf");
        NetnsResolver { dir }
    }

    /// Bytes per registrable domain in the database of the netmon this lab ran.
    pub fn stored_domains(&self) -> Vec<netmon_core::store::DomainTotal> {
        self.stored(|store, all| store.top_domains(all, 100))
    }

    /// Bytes per hostname under the registrable `domain` in the database.
    pub fn stored_hostnames(&self, domain: &str) -> Vec<netmon_core::store::HostTotal> {
        self.stored(|store, all| store.hostnames(domain, all, 100))
    }

    fn stored<T>(
        &self,
        query: impl FnOnce(
            &netmon_core::store::Store,
            netmon_core::store::Range,
        ) -> Result<T, netmon_core::store::StoreError>,
    ) -> T {
        let path = self.netmon_home().join("network_monitor.db");
        let store = netmon_core::store::Store::open(&path).expect("open the database");
        let all = netmon_core::store::Range {
            start_ms: 0,
            end_ms: i64::MAX,
        };
        query(&store, all).expect("query the database")
    }

    /// Serves `big.bin`, `bytes` long, over TLS on `port` (`openssl s_server`) with a
    /// certificate for `name`.
    pub fn start_tls_server(&mut self, name: &str, port: u16, bytes: usize) {
        let www = self.temp.path().join("www");
        std::fs::create_dir(&www).expect("create the web root");
        std::fs::write(www.join("big.bin"), vec![7u8; bytes]).expect("write the file");
        let (cert, key) = self.self_signed_certificate(name);
        let mut server = self.command(&self.server.clone(), "openssl");
        server.args(["s_server", "-quiet", "-WWW", "-accept", &port.to_string()]);
        server
            .arg("-cert")
            .arg(&cert)
            .arg("-key")
            .arg(&key)
            .current_dir(&www);
        self.spawn(server);
        self.wait_for_listener(port);
    }

    /// Makes a self-signed certificate for `name`; returns (certificate, key) paths.
    pub fn self_signed_certificate(&self, name: &str) -> (PathBuf, PathBuf) {
        let (cert, key) = (
            self.temp.path().join(format!("{name}.pem")),
            self.temp.path().join(format!("{name}.key")),
        );
        let made = Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            ])
            .arg("-subj")
            .arg(format!("/CN={name}"))
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .output()
            .expect("openssl is installed (.ci/run installs it)");
        assert!(
            made.status.success(),
            "{}",
            String::from_utf8_lossy(&made.stderr)
        );
        (cert, key)
    }
}

/// A client namespace's resolv.conf, removed when dropped.
pub struct NetnsResolver {
    dir: PathBuf,
}

impl NetnsResolver {
    /// Makes later lookups in the client namespace ask over TCP (`options use-vc`) or UDP.
    pub fn use_tcp(&self, tcp: bool) {
        let text = std::fs::read_to_string(self.dir.join("resolv.conf")).expect("read resolv.conf");
        let nameservers: String = text
            .lines()
            .filter(|line| line.starts_with("nameserver"))
            .map(|line| format!("{line}\n"))
            .collect();
        let options = if tcp { "options use-vc\n" } else { "" };
        std::fs::write(self.dir.join("resolv.conf"), nameservers + options)
            .expect("write resolv.conf");
    }
}

impl Drop for NetnsResolver {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Every file below `dir` whose bytes contain any of `needles` (case-insensitive ASCII).
pub fn files_containing(dir: &Path, needles: &[&str]) -> Vec<PathBuf> {
    let entries = std::fs::read_dir(dir).map(|entries| entries.flatten().collect::<Vec<_>>());
    entries
        .unwrap_or_default()
        .into_iter()
        .flat_map(|entry| {
            let path = entry.path();
            if path.is_dir() {
                files_containing(&path, needles)
            } else {
                let bytes = std::fs::read(&path)
                    .unwrap_or_default()
                    .to_ascii_lowercase();
                let found = needles.iter().any(|needle| {
                    let needle = needle.to_ascii_lowercase();
                    bytes
                        .windows(needle.len())
                        .any(|window| window == needle.as_bytes())
                });
                found.then_some(path).into_iter().collect()
            }
        })
        .collect()
}

/// The API port of a netmon with the default configuration.
pub const API_PORT: u16 = 7500;

impl Lab {
    /// Starts `netmon run --json` in the client namespace capturing on the client veth only, so
    /// the test's own requests to the API (on loopback) are not counted.
    pub fn start_netmon_on_veth(&self, interval_seconds: u64) -> Netmon {
        self.start_netmon_on_veth_with(interval_seconds, &["--json"])
    }

    /// [`Lab::start_netmon_on_veth`] with `options` for `netmon run` instead of `--json`
    /// (none: it prints no samples, as a service does).
    pub fn start_netmon_on_veth_with(&self, interval_seconds: u64, options: &[&str]) -> Netmon {
        let home = self.temp.path().join("netmon-home");
        let mut command = self.command(&self.client, env!("CARGO_BIN_EXE_netmon"));
        command
            .arg("run")
            .args(options)
            .args(["--interval", &interval_seconds.to_string()])
            .args(["--interface", &self.client_if])
            .env("NETMON_HOME", &home)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        Netmon::start(command)
    }

    /// Stops the kernel's IPv6 router solicitations at both ends of the link (sent for an hour
    /// after it came up, at growing gaps), so a lab left alone carries no traffic at all.
    pub fn silence_router_solicitations(&self) {
        [
            (&self.client, &self.client_if),
            (&self.server, &self.server_if),
        ]
        .into_iter()
        .for_each(|(ns, interface)| {
            let mut command = self.command(ns, "sysctl");
            command
                .arg("-qw")
                .arg(format!("net.ipv6.conf.{interface}.router_solicitations=0"));
            self.run(command);
        });
    }

    /// Whether a TCP socket listens on `port` in namespace `ns`.
    pub fn listens(&self, ns: &str, port: u16) -> bool {
        let output = Command::new("ip")
            .args(["netns", "exec", ns, "ss", "-Hltn"])
            .output()
            .expect("run ss");
        String::from_utf8_lossy(&output.stdout).contains(&format!(":{port} "))
    }

    /// A GET of the API of the netmon in the client namespace: the body, or the failure.
    pub fn api_get(&self, path: &str) -> Result<String, String> {
        let mut command = self.command(&self.client, "curl");
        command
            .args(["-sS", "--fail", "--max-time", "5", "-H"])
            .arg(format!("Host: 127.0.0.1:{API_PORT}"))
            .arg(format!("http://127.0.0.1:{API_PORT}{path}"));
        let output = command.output().expect("run curl");
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&output.stderr).into_owned())
        }
    }

    /// A PUT of a JSON `body` to the API of the netmon in the client namespace: the HTTP status
    /// and the body.
    pub fn api_put(&self, path: &str, body: &str) -> (u16, String) {
        self.api_send("PUT", path, body)
    }

    /// A `method` request (`PUT`, `POST`, …) with a JSON `body` to the API of the netmon in the
    /// client namespace: the HTTP status and the body.
    pub fn api_send(&self, method: &str, path: &str, body: &str) -> (u16, String) {
        let mut command = self.command(&self.client, "curl");
        command
            .args([
                "-sS",
                "--max-time",
                "5",
                "-X",
                method,
                "-w",
                "\n%{http_code}",
            ])
            .args(["-H", "Content-Type: application/json", "-H"])
            .arg(format!("Host: 127.0.0.1:{API_PORT}"))
            .args(["--data", body])
            .arg(format!("http://127.0.0.1:{API_PORT}{path}"));
        let output = command.output().expect("run curl");
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        let (body, status) = text.rsplit_once('\n').unwrap_or(("", &text));
        (status.trim().parse().unwrap_or(0), body.to_string())
    }

    /// Waits until the API in the client namespace answers `/api/status`.
    pub fn wait_for_api(&self) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while self.api_get("/api/status").is_err() {
            assert!(
                Instant::now() < deadline,
                "the API did not answer within 15 s"
            );
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// Subscribes to `/api/live` of the netmon in the client namespace.
    pub fn live_events(&self) -> LiveEvents {
        self.events_of("/api/live")
    }

    /// Subscribes to the Server-Sent Events of `path` of the netmon in the client namespace.
    pub fn events_of(&self, path: &str) -> LiveEvents {
        let mut command = self.command(&self.client, "curl");
        command
            .args(["-sSN", "-H"])
            .arg(format!("Host: 127.0.0.1:{API_PORT}"))
            .arg(format!("http://127.0.0.1:{API_PORT}{path}"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = command.spawn().expect("start curl for the event stream");
        let stdout = child.stdout.take().expect("curl stdout");
        let (sender, events) = mpsc::channel();
        thread::spawn(move || {
            BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .filter_map(|line| line.strip_prefix("data: ").map(str::to_string))
                .map(|data| serde_json::from_str(&data).expect("an event of JSON"))
                .for_each(|event| {
                    let _ = sender.send(event);
                });
        });
        LiveEvents { child, events }
    }
}

/// Events of `/api/live`, as a client received them.
pub struct LiveEvents {
    child: Child,
    pub events: mpsc::Receiver<serde_json::Value>,
}

impl LiveEvents {
    /// The next event, waiting up to `timeout`.
    pub fn next(&self, timeout: Duration) -> Option<serde_json::Value> {
        self.events.recv_timeout(timeout).ok()
    }
}

impl Drop for LiveEvents {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Netmon {
    /// Sends `signal` (a `kill` signal name such as `TERM`), waits up to 15 s for the exit and
    /// returns its status, how long the exit took, stderr, and every sample printed.
    pub fn signal_and_wait(
        mut self,
        signal: &str,
        first: Sample,
    ) -> (std::process::ExitStatus, Duration, String, Vec<Sample>) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status()
            .expect("kill");
        assert!(sent.success(), "kill -{signal} {pid} failed");
        let start = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait for netmon") {
                break status;
            }
            assert!(
                start.elapsed() < Duration::from_secs(15),
                "netmon did not stop within 15 s of SIG{signal}"
            );
            thread::sleep(Duration::from_millis(20));
        };
        let took = start.elapsed();
        let stderr = self
            .stderr
            .take()
            .and_then(|reader| reader.join().ok())
            .unwrap_or_default();
        let samples = std::iter::once(first)
            .chain(self.samples.try_iter())
            .collect();
        (status, took, stderr, samples)
    }

    /// Sends `signal`, waits for a clean exit and returns every sample printed.
    pub fn stop_with_signal(self, signal: &str, first: Sample) -> Vec<Sample> {
        let (status, _, stderr, samples) = self.signal_and_wait(signal, first);
        assert!(status.success(), "netmon exited with {status}: {stderr}");
        samples
    }
}

"""Shared pieces of netmon's benchmarks: a two-namespace lab joined by a veth pair, the traffic
programs, and readings of a process's CPU time, memory and file descriptors from /proc.

The lab matches the one netmon's end-to-end tests use (netmon-cli/tests/support/mod.rs):
client 10.200.0.2 / fd00:200::2, server 10.200.0.1 / fd00:200::1.
"""

import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

SERVER_V4 = "10.200.0.1"
SERVER_V6 = "fd00:200::1"
ETHERNET_HEADER = 14
HTTP_PORT = 8080
IPERF_PORT = 5201
REPO = Path(__file__).resolve().parent.parent
HTTP_SERVER = REPO / "netmon-cli/tests/support/http_server.py"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def ip(*args, check=True):
    """Runs `ip ARGS`; raises with ip's message when it fails."""
    result = subprocess.run(["ip", *args], capture_output=True, text=True)
    if check and result.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)} failed: {result.stderr.strip()}")
    return result


@dataclass(frozen=True)
class Counters:
    """Byte and packet counters of the client's veth."""

    bytes: int
    packets: int

    def since(self, earlier):
        """(IP bytes, frame bytes) that crossed the interface since `earlier`."""
        frames = self.packets - earlier.packets
        frame_bytes = self.bytes - earlier.bytes
        return frame_bytes - ETHERNET_HEADER * frames, frame_bytes


class Lab:
    """Two namespaces (client, server) joined by a veth pair; removed by close()."""

    def __init__(self, tag):
        self.client = f"nmbc{tag}"
        self.server = f"nmbs{tag}"
        self.client_if = f"vbc{tag}"
        self.server_if = f"vbs{tag}"
        self.temp = Path(os.environ.get("TMPDIR", "/tmp")) / f"netmon-bench-{tag}"
        self.children = []
        self.close()
        self.temp.mkdir(parents=True)
        self._build()

    def _build(self):
        c, s = self.client, self.server
        steps = [
            ["netns", "add", c],
            ["netns", "add", s],
            ["link", "add", self.client_if, "netns", c, "type", "veth", "peer", "name",
             self.server_if, "netns", s],
            ["-n", c, "addr", "add", "10.200.0.2/24", "dev", self.client_if],
            ["-n", s, "addr", "add", f"{SERVER_V4}/24", "dev", self.server_if],
            ["-n", c, "addr", "add", "fd00:200::2/64", "dev", self.client_if, "nodad"],
            ["-n", s, "addr", "add", f"{SERVER_V6}/64", "dev", self.server_if, "nodad"],
            ["-n", c, "link", "set", "lo", "up"],
            ["-n", s, "link", "set", "lo", "up"],
            ["-n", c, "link", "set", self.client_if, "up"],
            ["-n", s, "link", "set", self.server_if, "up"],
        ]
        for step in steps:
            ip(*step)

    def close(self):
        """Stops the lab's processes and removes the namespaces and temporary files."""
        for child in self.children:
            stop_process(child)
        self.children = []
        for namespace in (self.client, self.server):
            ip("netns", "del", namespace, check=False)
        shutil.rmtree(self.temp, ignore_errors=True)

    def set_offloads(self, on):
        """Turns segmentation and receive offloads (GSO, TSO, GRO) on or off at both ends of the
        veth: off, the capture sees every MTU-sized packet instead of 64 KB superframes."""
        state = "on" if on else "off"
        for namespace, interface in ((self.client, self.client_if),
                                     (self.server, self.server_if)):
            subprocess.run(self.command(namespace, "ethtool", "-K", interface, "gso", state,
                                        "tso", state, "gro", state),
                           check=True, capture_output=True)

    def command(self, namespace, *args):
        """The command line running ARGS inside `namespace` (ip execs it: same PID)."""
        return ["ip", "netns", "exec", namespace, *[str(arg) for arg in args]]

    def start_servers(self):
        """iperf3 and the HTTP server in the server namespace."""
        self.spawn(self.command(self.server, "iperf3", "-s", "-p", IPERF_PORT))
        self.spawn(self.command(self.server, "python3", HTTP_SERVER, HTTP_PORT))
        self.wait_for_listener(IPERF_PORT)
        self.wait_for_listener(HTTP_PORT)

    def spawn(self, args, **kwargs):
        kwargs.setdefault("stdout", subprocess.DEVNULL)
        kwargs.setdefault("stderr", subprocess.DEVNULL)
        child = subprocess.Popen(args, **kwargs)
        self.children.append(child)
        return child

    def wait_for_listener(self, port):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            listening = subprocess.run(self.command(self.server, "ss", "-Hltun"),
                                       capture_output=True, text=True).stdout
            if f":{port} " in listening:
                return
            time.sleep(0.05)
        raise RuntimeError(f"nothing listens on port {port} in the server namespace")

    def counters(self):
        shown = ip("-n", self.client, "-s", "-j", "link", "show", "dev", self.client_if).stdout
        stats = json.loads(shown)[0]["stats64"]
        return Counters(
            bytes=stats["rx"]["bytes"] + stats["tx"]["bytes"],
            packets=stats["rx"]["packets"] + stats["tx"]["packets"],
        )

    def program_named(self, program, name):
        """A copy of `program` called `name`, so its traffic is told apart by process name."""
        source = shutil.which(program)
        if source is None:
            raise RuntimeError(f"{program} is not installed")
        target = self.temp / name
        shutil.copy(source, target)
        return target


@dataclass(frozen=True)
class Phase:
    """One traffic program run alone: `name` is both the phase and the program's process name
    (at most 15 characters, the kernel's limit on a process name)."""

    name: str
    program: str
    args: tuple
    what: str


def traffic_mix(seconds):
    """The fixed mix: paced TCP at three rates, unpaced TCP, UDP at two rates, IPv6 TCP, and
    many short HTTP connections."""
    tcp = ("-c", SERVER_V4, "-p", IPERF_PORT, "-t", seconds)
    return [
        Phase("nb-tcp-10m", "iperf3", tcp + ("-b", "10M"), "TCP paced 10 Mbit/s"),
        Phase("nb-tcp-100m", "iperf3", tcp + ("-b", "100M"), "TCP paced 100 Mbit/s"),
        Phase("nb-tcp-1g", "iperf3", tcp + ("-b", "1G"), "TCP paced 1 Gbit/s"),
        Phase("nb-tcp-max", "iperf3", tcp + ("-P", "2"), "TCP unpaced, 2 streams"),
        Phase("nb-udp-20m", "iperf3", tcp + ("-u", "-b", "20M"), "UDP 20 Mbit/s"),
        Phase("nb-udp-200m", "iperf3", tcp + ("-u", "-b", "200M", "-l", "1400"),
              "UDP 200 Mbit/s"),
        Phase("nb-tcp6-200m", "iperf3",
              ("-6", "-c", SERVER_V6, "-p", IPERF_PORT, "-t", seconds, "-b", "200M"),
              "TCP over IPv6 200 Mbit/s"),
        Phase("nb-http", "curl",
              ("-sS", "-o", "/dev/null", "-Z", "--parallel-max", "16",
               f"http://{SERVER_V4}:{HTTP_PORT}/[1-{int(seconds) * 150}]/bytes/20000"),
              "short HTTP/1.0 flows, 20 kB each"),
    ]


def mtu_mix(seconds):
    """Phases for a veth with its offloads off (see Lab.set_offloads): every packet MTU-sized,
    as a Wi-Fi or Ethernet link hands them to a capture. Names start with "nm-"."""
    tcp = ("-c", SERVER_V4, "-p", IPERF_PORT, "-t", seconds)
    return [
        Phase("nm-tcp-10m", "iperf3", tcp + ("-b", "10M"), "MTU: TCP paced 10 Mbit/s"),
        Phase("nm-tcp-100m", "iperf3", tcp + ("-b", "100M"), "MTU: TCP paced 100 Mbit/s"),
        Phase("nm-tcp-1g", "iperf3", tcp + ("-b", "1G"), "MTU: TCP paced 1 Gbit/s"),
        Phase("nm-tcp-max", "iperf3", tcp + ("-P", "2"), "MTU: TCP unpaced, 2 streams"),
        Phase("nm-udp-20m", "iperf3", tcp + ("-u", "-b", "20M", "-l", "1400"),
              "MTU: UDP 20 Mbit/s"),
        Phase("nm-udp-200m", "iperf3", tcp + ("-u", "-b", "200M", "-l", "1400"),
              "MTU: UDP 200 Mbit/s"),
    ]


def run_phase(lab, phase, timeout):
    """Runs one phase's program to completion in the client namespace; returns
    (IP bytes, frame bytes) the client's veth moved meanwhile."""
    program = lab.program_named(phase.program, phase.name)
    before = lab.counters()
    result = subprocess.run(lab.command(lab.client, program, *phase.args),
                            capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"{phase.name} failed: {result.stderr.strip()[-500:]}")
    return lab.counters().since(before)


def cpu_seconds(pid):
    """utime + stime of a process (all its threads, ended ones too), in seconds: counted in
    clock ticks (10 ms), so a difference of two readings is off by up to a tick at each end."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def threads(pid):
    """{tid: (name, voluntary switches, CPU seconds)} of every thread of `pid`. The CPU time is
    /proc/PID/task/TID/schedstat's, in nanoseconds: the ticks of /proc/PID/stat are too coarse
    for the few milliseconds an idle minute or a light traffic phase costs."""
    readings = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            status = (task / "status").read_text()
            schedstat = (task / "schedstat").read_text()
        except (FileNotFoundError, ProcessLookupError):
            continue  # the thread ended meanwhile
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        cpu = int(schedstat.split()[0]) / 1e9
        readings[int(task.name)] = (fields["Name"].strip(),
                                    int(fields["voluntary_ctxt_switches"]), cpu)
    return readings


@dataclass(frozen=True)
class CpuReading:
    """A process's CPU time at one moment: per live thread (exact) and in ticks (ended
    threads included)."""

    ticks: float
    threads: dict

    @staticmethod
    def of(pid):
        return CpuReading(cpu_seconds(pid), threads(pid))

    def since(self, earlier):
        """CPU seconds used since `earlier`: the threads' exact times, unless a thread of
        `earlier` has ended (its time went with it), then the ticks."""
        if not set(earlier.threads) <= set(self.threads):
            return self.ticks - earlier.ticks
        return sum(cpu - earlier.threads.get(tid, (None, 0, 0.0))[2]
                   for tid, (_name, _switches, cpu) in self.threads.items())

    def wakeups_since(self, earlier):
        """Voluntary context switches (sleeps that ended in a wake-up) of the threads alive
        now since `earlier` (those of a thread that ended are not counted)."""
        return sum(switches - earlier.threads.get(tid, (None, 0, 0.0))[1]
                   for tid, (_name, switches, _cpu) in self.threads.items())


def status_kb(pid, key):
    """A `kB` field of /proc/PID/status (VmHWM: peak RSS, VmRSS: current RSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/{pid}/status has no {key}")


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def stop_process(child, signal_number=2, grace=15):
    """Sends `signal_number` (SIGINT), waits up to `grace` seconds, then kills."""
    if child.poll() is not None:
        return child.returncode
    child.send_signal(signal_number)
    try:
        return child.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        child.kill()
        return child.wait()


def machine():
    """nproc, the CPU model and RAM of this machine."""
    model = next((line.split(":", 1)[1].strip()
                  for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), "unknown")
    ram_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal:"))
    load = Path("/proc/loadavg").read_text().split()[:3]
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "ram_gib": round(ram_kb / 1024 / 1024, 1),
        "kernel": os.uname().release,
        "load_average": [float(value) for value in load],
    }

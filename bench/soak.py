#!/usr/bin/env python3
"""Soak: netmon runs for a long time under varied traffic; its RSS must stay flat.

Every `--sample-seconds` (default 60) it records elapsed time, RSS, peak RSS, CPU seconds, open
file descriptors and the database's size (with its WAL) into a CSV under bench/results/. At the
end it fits a line through the RSS readings after the warm-up and passes when the growth over
the run stays within max(2 MB, 10 % of the mean RSS). Run through bench/soak.sh.
"""

import argparse
import csv
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import benchlab

RESULTS = benchlab.REPO / "bench/results"
COLUMNS = ["elapsed_s", "rss_kb", "peak_rss_kb", "cpu_s", "open_fds", "db_bytes", "traffic_ip_bytes"]


class Traffic(threading.Thread):
    """Cycles through the benchmark's traffic mix (short phases) until stopped."""

    def __init__(self, lab, phase_seconds):
        super().__init__(daemon=True)
        self.lab = lab
        self.phase_seconds = phase_seconds
        self.stopping = threading.Event()
        self.ip_bytes = 0
        self.failures = []

    def run(self):
        while not self.stopping.is_set():
            for phase in benchlab.traffic_mix(str(self.phase_seconds)):
                if self.stopping.is_set():
                    return
                try:
                    ip_bytes, _ = benchlab.run_phase(self.lab, phase,
                                                     timeout=self.phase_seconds * 6 + 60)
                    self.ip_bytes += ip_bytes
                except (RuntimeError, subprocess.TimeoutExpired) as error:
                    self.failures.append(str(error))
                self.stopping.wait(2)


def db_bytes(home):
    """Bytes of the database and its write-ahead log."""
    return sum(path.stat().st_size for path in home.glob("network_monitor.db*") if path.is_file())


def reading(pid, start, home, traffic):
    return {
        "elapsed_s": round(time.monotonic() - start),
        "rss_kb": benchlab.status_kb(pid, "VmRSS"),
        "peak_rss_kb": benchlab.status_kb(pid, "VmHWM"),
        "cpu_s": round(benchlab.cpu_seconds(pid), 2),
        "open_fds": benchlab.open_fds(pid),
        "db_bytes": db_bytes(home),
        "traffic_ip_bytes": traffic.ip_bytes,
    }


def flat(rows, warmup_s):
    """(passed, growth in kB over the run, allowed kB) from a least-squares line through the
    RSS readings after the warm-up."""
    points = [(row["elapsed_s"], row["rss_kb"]) for row in rows if row["elapsed_s"] >= warmup_s]
    if len(points) < 2:
        raise RuntimeError("too few readings after the warm-up to judge the RSS line")
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_r = sum(r for _, r in points) / n
    slope = (sum((t - mean_t) * (r - mean_r) for t, r in points)
             / sum((t - mean_t) ** 2 for t, _ in points))
    growth = slope * (points[-1][0] - points[0][0])
    allowed = max(2048, 0.10 * mean_r)
    return growth <= allowed, round(growth), round(allowed)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--netmon", required=True, type=Path, help="the netmon binary")
    parser.add_argument("--hours", type=float, default=1.0, help="how long (default 1)")
    parser.add_argument("--minutes", type=float, help="how long, in minutes (overrides --hours)")
    parser.add_argument("--sample-seconds", type=float, default=60, help="seconds between readings")
    parser.add_argument("--phase-seconds", type=int, default=10, help="seconds per traffic phase")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("the soak builds network namespaces and captures packets: run it as root")
    if not args.netmon.is_file():
        sys.exit(f"no netmon binary at {args.netmon}")
    duration = args.minutes * 60 if args.minutes is not None else args.hours * 3600
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"soak-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.csv"
    lab = benchlab.Lab(os.getpid())
    try:
        lab.start_servers()
        home = lab.temp / "netmon-home"
        environment = {**os.environ, "NETMON_HOME": str(home)}
        environment.pop("SUDO_UID", None)
        netmon = lab.spawn(lab.command(lab.client, args.netmon.resolve(), "run", "--json"),
                           env=environment, stderr=(lab.temp / "netmon.err").open("w"))
        time.sleep(3)
        if netmon.poll() is not None:
            sys.exit(f"netmon exited at start: {(lab.temp / 'netmon.err').read_text()[-2000:]}")
        traffic = Traffic(lab, args.phase_seconds)
        start = time.monotonic()
        traffic.start()
        rows = []
        with out.open("w", newline="") as file:
            writer = csv.DictWriter(file, fieldnames=COLUMNS)
            writer.writeheader()
            while True:
                time.sleep(min(args.sample_seconds, max(0.0, duration - (time.monotonic() - start))))
                if netmon.poll() is not None:
                    sys.exit(f"netmon exited during the soak: "
                             f"{(lab.temp / 'netmon.err').read_text()[-2000:]}")
                rows.append(reading(netmon.pid, start, home, traffic))
                writer.writerow(rows[-1])
                file.flush()
                print(", ".join(f"{key} {value}" for key, value in rows[-1].items()), flush=True)
                if time.monotonic() - start >= duration - 0.5:
                    break
        traffic.stopping.set()
        traffic.join(timeout=args.phase_seconds * 6 + 60)
        stopped = benchlab.stop_process(netmon)
    finally:
        lab.close()
    passed, growth, allowed = flat(rows, warmup_s=min(300, duration / 4))
    print(f"CSV: {out}")
    print(f"traffic: {traffic.ip_bytes / 1e9:.2f} GB; failed traffic phases: {len(traffic.failures)}")
    print(f"netmon exit status after SIGINT: {stopped}")
    print(f"RSS growth after warm-up {growth} kB (allowed {allowed} kB): "
          f"{'PASS' if passed and stopped == 0 else 'FAIL'}")
    sys.exit(0 if passed and stopped == 0 else 1)


if __name__ == "__main__":
    main()

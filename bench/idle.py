#!/usr/bin/env python3
"""netmon watching nothing: wake-ups and CPU time in a network namespace with no traffic.

Starts `netmon run` capturing in the lab's client namespace, lets it settle, then reads every
thread's voluntary context switches (each one a sleep that ended in a wake-up) from
/proc/PID/task/TID/status and its CPU time from /proc/PID/task/TID/schedstat (nanoseconds: the
10 ms ticks of /proc/PID/task/TID/stat charge a whole tick to whichever thread ran when it
fell, too coarse for the few milliseconds an idle minute costs) at the start and the end of
`--seconds` (default 60). Prints wake-ups per second and CPU seconds per hour, in total and
per thread, against the targets (<= 2 wake-ups/s, <= 2 CPU-s/hour), and writes JSON to
bench/results/. Run through bench/idle.sh.

The lab's link is silent: the kernel's IPv6 router solicitations are turned off at both ends
(after a link comes up the kernel sends them for an hour, at growing gaps: 4, 8, 16, 32 s...),
so the namespace carries no traffic at all once the link's first packets (address checks,
multicast reports) are over. `--trickle SECONDS` adds what a quiet link does carry: one small
UDP datagram from the client every SECONDS (the server answers it with an ICMP "port
unreachable"), so the cost of a lone packet on an idle link shows.

Then the machine's floor: a reference program that does nothing but sleep and wake as often as
netmon woke, measured the same way for as long. On some virtual machines each wake-up after a
long sleep is charged milliseconds of CPU time whatever the program does (this one charges a
Python loop 2.5-4 ms per wake-up after 1 s asleep), so a figure near the floor is the machine's,
not netmon's. The targets are judged on netmon's own figure; the floor is printed beside it.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import benchlab

RESULTS = benchlab.REPO / "bench/results"
TARGET_WAKEUPS_PER_SECOND = 2.0
TARGET_CPU_SECONDS_PER_HOUR = 2.0
# Sends one 64-byte datagram to HOST:PORT every SECONDS until stopped.
TRICKLE = """
import socket, sys, time
host, port, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
while True:
    sender.sendto(bytes(64), (host, port))
    time.sleep(seconds)
"""
# The reference: says it is ready, wakes COUNT times over SECONDS, says it is done, then waits
# to be read and stopped.
SLEEPER = """
import sys, time
count, seconds = int(sys.argv[1]), float(sys.argv[2])
print("ready", flush=True)
for _ in range(count):
    time.sleep(seconds / count)
print("done", flush=True)
time.sleep(60)
"""


def silence(lab):
    """Turns the kernel's IPv6 router solicitations off at both ends of the lab's link."""
    for namespace, interface in ((lab.client, lab.client_if), (lab.server, lab.server_if)):
        subprocess.run(lab.command(namespace, "sysctl", "-qw",
                                   f"net.ipv6.conf.{interface}.router_solicitations=0"),
                       check=True)


def measure(netmon, seconds, settle, trickle):
    lab = benchlab.Lab(f"i{os.getpid()}")
    try:
        silence(lab)
        if trickle:
            lab.spawn(lab.command(lab.client, sys.executable, "-c", TRICKLE, benchlab.SERVER_V4,
                                  "9", trickle))
        home = lab.temp / "netmon-home"
        environment = {**os.environ, "NETMON_HOME": str(home)}
        environment.pop("SUDO_UID", None)
        child = lab.spawn(lab.command(lab.client, netmon, "run"), env=environment,
                          stderr=(lab.temp / "netmon.err").open("w"))
        time.sleep(settle)
        if child.poll() is not None:
            raise RuntimeError(f"netmon exited: {(lab.temp / 'netmon.err').read_text()[-2000:]}")
        before, started = benchlab.threads(child.pid), time.monotonic()
        time.sleep(seconds)
        after, elapsed = benchlab.threads(child.pid), time.monotonic() - started
        process_cpu = benchlab.cpu_seconds(child.pid)
        benchlab.stop_process(child)
        per_thread = []
        for tid, (name, switches, cpu) in sorted(after.items()):
            _, switches_before, cpu_before = before.get(tid, (name, 0, 0.0))
            per_thread.append({
                "tid": tid,
                "name": name,
                "wakeups_per_second": round((switches - switches_before) / elapsed, 2),
                "cpu_seconds": round(cpu - cpu_before, 3),
            })
        wakeups = sum(thread["wakeups_per_second"] for thread in per_thread)
        cpu = sum(thread["cpu_seconds"] for thread in per_thread)
        return {
            "seconds": round(elapsed, 1),
            "wakeups_per_second": round(wakeups, 2),
            "cpu_seconds": round(cpu, 3),
            "cpu_seconds_per_hour": round(cpu * 3600 / elapsed, 2),
            "process_cpu_seconds_since_start": process_cpu,
            "threads": per_thread,
        }
    finally:
        lab.close()


def floor(wakeups, seconds):
    """CPU seconds per hour and wake-ups per second of a program that only sleeps and wakes
    `wakeups` times evenly over `seconds`."""
    count = max(1, round(wakeups))
    child = subprocess.Popen([sys.executable, "-c", SLEEPER, str(count), str(seconds)],
                             stdout=subprocess.PIPE, text=True)
    try:
        child.stdout.readline()
        before, started = benchlab.CpuReading.of(child.pid), time.monotonic()
        child.stdout.readline()
        after, elapsed = benchlab.CpuReading.of(child.pid), time.monotonic() - started
    finally:
        child.kill()
        child.wait()
    cpu, switches = after.since(before), after.wakeups_since(before)
    return {
        "wakeups_per_second": round(switches / elapsed, 2),
        "cpu_seconds_per_hour": round(cpu * 3600 / elapsed, 2),
        "cpu_ms_per_wakeup": round(cpu * 1000 / max(switches, 1), 2),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--netmon", required=True, type=Path, help="the netmon binary")
    parser.add_argument("--seconds", type=int, default=60, help="seconds measured")
    parser.add_argument("--settle", type=int, default=5, help="seconds before measuring")
    parser.add_argument("--trickle", type=float, default=0,
                        help="one small datagram every this many seconds (default: none)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("the measurement builds network namespaces and captures packets: run it as root")
    if not args.netmon.is_file():
        sys.exit(f"no netmon binary at {args.netmon}")
    results = {"machine": benchlab.machine(), "netmon": str(args.netmon),
               "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               "trickle_seconds": args.trickle or None}
    results.update(measure(args.netmon.resolve(), args.seconds, args.settle, args.trickle))
    results["floor"] = floor(results["wakeups_per_second"] * results["seconds"], args.seconds)
    results["met"] = {
        "wakeups": results["wakeups_per_second"] <= TARGET_WAKEUPS_PER_SECOND,
        "cpu": results["cpu_seconds_per_hour"] <= TARGET_CPU_SECONDS_PER_HOUR,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    # The binary's name too: two builds measured side by side (two labs) end in the same second.
    stamp = time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())
    out = RESULTS / f"idle-{stamp}-{args.netmon.name}.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    for thread in results["threads"]:
        print(f"  {thread['name']:<16} {thread['wakeups_per_second']:7.2f} wake-ups/s "
              f"{thread['cpu_seconds']:7.3f} CPU-s")
    verdict = {True: "met", False: "MISSED"}
    traffic = f", a datagram every {args.trickle:g} s" if args.trickle else ""
    print(f"idle {results['seconds']} s{traffic} (load {results['machine']['load_average']}): "
          f"{results['wakeups_per_second']} wake-ups/s (target <= {TARGET_WAKEUPS_PER_SECOND}: "
          f"{verdict[results['met']['wakeups']]}), {results['cpu_seconds_per_hour']} CPU-s/hour "
          f"(target <= {TARGET_CPU_SECONDS_PER_HOUR}: {verdict[results['met']['cpu']]})")
    machine_floor = results["floor"]
    print(f"this machine's floor, a program that only sleeps and wakes as often: "
          f"{machine_floor['wakeups_per_second']} wake-ups/s, "
          f"{machine_floor['cpu_seconds_per_hour']} CPU-s/hour "
          f"({machine_floor['cpu_ms_per_wakeup']} ms charged per wake-up)")
    print(f"JSON: {out}")


if __name__ == "__main__":
    main()

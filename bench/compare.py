#!/usr/bin/env python3
"""netmon next to nethogs and bandwhich on the same traffic, in the same run.

All three capture the client side of a veth pair at once while a fixed traffic mix runs, one
program at a time, each a copy of iperf3 or curl under its own name. For each tool: CPU seconds
(each thread's exact time on CPU, from /proc/PID/task/TID/schedstat: utime + stime count 10 ms
ticks, as much as a light phase costs) and wake-ups (voluntary context switches) per phase,
CPU seconds per GB moved, peak RSS (VmHWM) and the
share of each program's bytes credited to that program, against the veth's own counters. The
mix runs twice: with the veth's offloads on (the capture sees GSO/TSO superframes of up to
64 KB) and off (every packet MTU-sized, as on Wi-Fi or Ethernet); the two kinds are reported
apart. `--baseline` runs a second
netmon build (say main's) in the same run, so before and after are compared on the same traffic
and the same load. The tools are started afresh for each kind's mix (nethogs' cost grows with
its run: it keeps every process it saw); peak RSS is the highest of those runs. `--rounds N`
runs it all N times and judges each phase on the medians over the rounds, as a peer's own
cost moves from run to run. `--alone` runs the mix once per tool instead, each tool alone on
the veth, and compares the phases per GB each tool's run moved. Prints the tables and writes
JSON to bench/results/. Run through
bench/compare.sh, which installs the peers and builds netmon.
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import benchlab

RESULTS = benchlab.REPO / "bench/results"
TARGET_ATTRIBUTION = 99.5
TARGET_RSS_MB = 25.0
TARGET_CPU_RATIO = 1 / 3
TARGET_MTU_TCP_RATIO = 1 / 3
TARGET_MTU_UDP_RATIO = 1 / 2
KINDS = {
    "gso": "offloads on (GSO/TSO superframes)",
    "mtu": "offloads off (MTU-sized packets)",
}


@dataclass
class Tool:
    """A monitor under test: how to start it and how to read what it credited to whom."""

    name: str
    args: list
    unit: str  # "ip" or "frame": which bytes the tool counts
    parse: object
    env: dict = field(default_factory=dict)
    child: object = None
    stdout: Path = None
    cpu_start: benchlab.CpuReading = None

    def start(self, lab):
        self.stdout = lab.temp / f"{self.name}.out"
        environment = {**os.environ, **self.env}
        environment.pop("SUDO_UID", None)
        self.child = lab.spawn(lab.command(lab.client, *self.args), env=environment,
                               stdout=self.stdout.open("w"),
                               stderr=(lab.temp / f"{self.name}.err").open("w"))

    def alive(self):
        return self.child.poll() is None

    def stderr(self, lab):
        return (lab.temp / f"{self.name}.err").read_text(errors="replace")[-2000:]


def netmon_samples(text):
    """Every JSON sample `netmon run --json` printed."""
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def netmon_bytes(text):
    """Bytes per application over every JSON sample `netmon run --json` printed."""
    totals = {}
    for sample in netmon_samples(text):
        for usage in sample.get("usage", []):
            totals[usage["app"]] = totals.get(usage["app"], 0) + usage["bytes"]
    return totals


def netmon_dropped(text, started_ms, ended_ms):
    """Packets the kernel dropped (pcap_stats) in the samples that ended within a phase."""
    return sum(sample["stats"]["dropped_packets"] for sample in netmon_samples(text)
               if started_ms <= sample["end_ms"] <= ended_ms)


NUMBER = r"[\d.]+(?:e[+-]?\d+)?"
NETHOGS_LINE = re.compile(
    rf"^(?P<label>.+)/(?P<pid>\d+)/(?P<uid>\d+)\t(?P<sent>{NUMBER})\t(?P<recv>{NUMBER})$")


def nethogs_bytes(text):
    """Bytes per program from `nethogs -t -C -v 2` (TCP and UDP, cumulative bytes per process
    at each refresh): the last figure of each process, summed per program name."""
    last = {}
    for line in text.splitlines():
        match = NETHOGS_LINE.match(line.strip())
        if match:
            program = Path(match["label"].split()[0]).name
            last[(program, match["pid"])] = float(match["sent"]) + float(match["recv"])
    totals = {}
    for (program, _pid), value in last.items():
        totals[program] = totals.get(program, 0) + int(value)
    return totals


BANDWHICH_LINE = re.compile(r'^process: <\d+> "(?P<name>[^"]*)" up/down Bps: (?P<up>\d+)/(?P<down>\d+)')


def bandwhich_bytes(text):
    """Bytes per process name from `bandwhich --raw --total-utilization` (cumulative per
    refresh): the largest figure seen for each name."""
    totals = {}
    for line in text.splitlines():
        match = BANDWHICH_LINE.match(line.strip())
        if match:
            value = int(match["up"]) + int(match["down"])
            totals[match["name"]] = max(totals.get(match["name"], 0), value)
    return totals


def netmon_tool(name, binary, lab, interval, port):
    """`netmon run` with a home of its own whose config.json gives it its own API port, so a
    baseline build can run beside it in the same namespace."""
    home = lab.temp / f"{name}-home"
    home.mkdir(parents=True, exist_ok=True)
    config = home / "config.json"
    config.write_text(json.dumps({"web_server_port": port}))
    config.chmod(0o600)
    return Tool(name, [binary, "run", "--json", "--interval", interval], "ip", netmon_bytes,
                env={"NETMON_HOME": str(home)})


PEERS = ("nethogs", "bandwhich")


def tools(netmon, baseline, peers, lab, interval):
    netmons = [netmon_tool("netmon", netmon, lab, interval, 7601)]
    if baseline:
        netmons.append(netmon_tool("netmon-base", baseline, lab, interval, 7602))
    every_peer = [
        Tool("nethogs", ["nethogs", "-t", "-C", "-v", "2", "-d", interval, lab.client_if], "frame",
             nethogs_bytes),
        Tool("bandwhich", ["bandwhich", "--raw", "--no-resolve", "--total-utilization",
                           "--processes", "--interface", lab.client_if], "ip", bandwhich_bytes),
    ]
    return netmons + [tool for tool in every_peer if tool.name in peers]


def wait_until_capturing(lab, monitors):
    """Gives the monitors a moment, checks each is still running, and starts their CPU clocks
    (start-up work is left out)."""
    time.sleep(3)
    for tool in monitors:
        if not tool.alive():
            raise RuntimeError(f"{tool.name} exited at start: {tool.stderr(lab)}")
        tool.cpu_start = benchlab.CpuReading.of(tool.child.pid)


def measure(args, round_, kind, only=None):
    """One kind's mix in one round, the tools (or the one named `only`) started afresh for it,
    and their readings."""
    lab = benchlab.Lab(os.getpid())
    try:
        lab.start_servers()
        monitors = [tool for tool in tools(args.netmon, args.baseline, args.peers, lab, "1")
                    if only in (None, tool.name)]
        for tool in monitors:
            tool.start(lab)
        wait_until_capturing(lab, monitors)
        mix = (benchlab.traffic_mix if kind == "gso" else benchlab.mtu_mix)(str(args.seconds))
        lab.set_offloads(kind == "gso")
        print(f" {KINDS[kind]}, round {round_} of {args.rounds}", file=sys.stderr)
        phases = [run_phase(lab, monitors, phase, kind, args.seconds, round_) for phase in mix]
        time.sleep(3)  # the last sample interval and every refresh have passed
        readings = {tool.name: read_process(tool) for tool in monitors}
        for tool in monitors:
            benchlab.stop_process(tool.child)
        return summarise(lab, monitors, phases, readings)
    finally:
        lab.close()


def measure_alone(args, round_, kind):
    """One kind's mix in one round once per tool, each tool alone on the veth (so none shares
    the two vCPUs or the kernel's packet path with another capture), joined as one run: each
    phase holds every tool's CPU seconds and wake-ups, and the bytes each tool's run moved
    (`ip_bytes_by_tool`; unpaced, a tool's own load changes them)."""
    names = ["netmon", *(["netmon-base"] if args.baseline else []), *args.peers]
    runs = [measure(args, round_, kind, only=name) for name in names]
    phases = [{**alike[0],
               "cpu_seconds": joined(alike, "cpu_seconds"),
               "wakeups": joined(alike, "wakeups"),
               "ip_bytes_by_tool": {name: phase["ip_bytes"] for name, phase in zip(names, alike)}}
              for alike in zip(*(run["phases"] for run in runs))]
    return {"phases": phases, "total_ip_bytes": runs[0]["total_ip_bytes"],
            "tools": {name: figures for run in runs for name, figures in run["tools"].items()}}


def joined(phases, field):
    """The per-tool `field` of one phase's runs, one tool each, in one dict."""
    return {name: value for phase in phases for name, value in phase[field].items()}


def bytes_of(phase, name):
    """IP bytes moved while `name` watched the phase: its own run's when each tool ran alone."""
    return phase.get("ip_bytes_by_tool", {}).get(name, phase["ip_bytes"])


def cpu_for_phase(phase, name):
    """`name`'s CPU seconds in the phase, scaled to the phase's bytes when its own run moved
    other bytes (each tool alone, unpaced); as measured otherwise."""
    moved = bytes_of(phase, name)
    return phase["cpu_seconds"][name] * phase["ip_bytes"] / moved if moved else 0.0


def run_phase(lab, monitors, phase, kind, seconds, round_):
    """One phase of the mix in round `round_`, with the CPU seconds each monitor used
    meanwhile."""
    cpu_before = cpu_of(monitors)
    started_ms = time.time() * 1000
    ip_bytes, frame_bytes = benchlab.run_phase(lab, phase, timeout=seconds * 6 + 60)
    time.sleep(1.5)  # each tool has read the phase's last packets
    after = cpu_of(monitors)
    cpu = {name: round(now.since(cpu_before[name]), 4) for name, now in after.items()}
    wakeups = {name: now.wakeups_since(cpu_before[name]) for name, now in after.items()}
    load = Path("/proc/loadavg").read_text().split()[0]
    print(f"  {phase.name:<14} {phase.what:<34} {ip_bytes / 1e6:10.1f} MB  load {load}",
          file=sys.stderr)
    return {"name": phase.name, "what": phase.what, "kind": kind, "round": round_,
            "ip_bytes": ip_bytes,
            "frame_bytes": frame_bytes, "cpu_seconds": cpu, "wakeups": wakeups,
            "load_average_1m": float(load),
            "started_ms": started_ms, "ended_ms": time.time() * 1000}


def cpu_of(monitors):
    """Each monitor's CPU time so far."""
    return {tool.name: benchlab.CpuReading.of(tool.child.pid) for tool in monitors}


def read_process(tool):
    pid = tool.child.pid
    if not tool.alive():
        raise RuntimeError(f"{tool.name} exited during the run")
    return {
        "cpu_seconds": round(benchlab.CpuReading.of(pid).since(tool.cpu_start), 3),
        "peak_rss_mb": round(benchlab.status_kb(pid, "VmHWM") / 1024, 1),
    }


def summarise(lab, monitors, phases, readings):
    total_ip = sum(phase["ip_bytes"] for phase in phases)
    results = {}
    for tool in monitors:
        text = tool.stdout.read_text(errors="replace")
        credited = tool.parse(text)
        key = "ip_bytes" if tool.unit == "ip" else "frame_bytes"
        per_phase = {phase["name"]: percent(credited.get(phase["name"], 0), phase[key])
                     for phase in phases}
        right = sum(min(credited.get(phase["name"], 0), phase[key]) for phase in phases)
        reading = readings[tool.name]
        results[tool.name] = {
            **reading,
            "cpu_seconds_per_gb": round(reading["cpu_seconds"] / (total_ip / 1e9), 4),
            "cpu_seconds_per_gb_by_kind": {
                kind: cpu_per_gb(tool.name, [p for p in phases if p["kind"] == kind])
                for kind in KINDS if any(p["kind"] == kind for p in phases)},
            "attributed_percent": percent(right, sum(phase[key] for phase in phases)),
            "attributed_percent_per_phase": per_phase,
            "counts": tool.unit + " bytes",
            "credited_bytes": credited,
        }
        if tool.parse is netmon_bytes:
            results[tool.name]["dropped_per_phase"] = {
                phase["name"]: netmon_dropped(text, phase["started_ms"], phase["ended_ms"] + 3000)
                for phase in phases}
    return {"phases": phases, "total_ip_bytes": total_ip, "tools": results}


def merge_runs(runs):
    """The tools' runs (one per kind and round) as one: every phase, and each phase's medians
    (see `median_phases`); per tool its CPU summed, its peak RSS and its worst attribution over
    the runs, the drops summed; each run's own figures under `runs`."""
    phases = [phase for run in runs for phase in run["phases"]]
    total_ip = sum(run["total_ip_bytes"] for run in runs)
    tools_ = {}
    for name in runs[0]["tools"]:
        each = [run["tools"][name] for run in runs]
        cpu = round(sum(tool["cpu_seconds"] for tool in each), 3)
        moved = sum(bytes_of(phase, name) for phase in phases)
        merged = {
            "cpu_seconds": cpu,
            "peak_rss_mb": max(tool["peak_rss_mb"] for tool in each),
            "cpu_seconds_per_gb": round(cpu / (moved / 1e9), 4),
            "cpu_seconds_per_gb_by_kind": {
                kind: cpu_per_gb(name, [p for p in phases if p["kind"] == kind])
                for kind in KINDS if any(p["kind"] == kind for p in phases)},
            "attributed_percent": min(tool["attributed_percent"] for tool in each),
            "attributed_percent_per_phase": over_runs(each, "attributed_percent_per_phase", min),
            "counts": each[0]["counts"],
        }
        if "dropped_per_phase" in each[0]:
            merged["dropped_per_phase"] = over_runs(each, "dropped_per_phase", sum)
        tools_[name] = merged
    return {"phases": phases, "median_phases": median_phases(phases), "total_ip_bytes": total_ip,
            "tools": tools_, "runs": [run["tools"] for run in runs]}


def over_runs(figures, field, combine):
    """Per phase, `combine` of the `field` figures of the runs that held it."""
    names = dict.fromkeys(name for figure in figures for name in figure[field])
    return {name: combine(figure[field][name] for figure in figures if name in figure[field])
            for name in names}


def median_phases(phases):
    """One phase per name: each tool's median CPU seconds and wake-ups over the rounds (a peer's
    own cost moves by a quarter from run to run on this VM, so one round's verdict at the line
    is chance), the median bytes moved, and how many rounds."""
    names = dict.fromkeys(phase["name"] for phase in phases)
    by_name = ([phase for phase in phases if phase["name"] == name] for name in names)
    return [{
        "name": rounds[0]["name"], "what": rounds[0]["what"], "kind": rounds[0]["kind"],
        "rounds": len(rounds),
        "ip_bytes": statistics.median(phase["ip_bytes"] for phase in rounds),
        "ip_bytes_by_tool": {tool: statistics.median(bytes_of(phase, tool) for phase in rounds)
                             for tool in rounds[0]["cpu_seconds"]},
        "cpu_seconds": median_per_tool(rounds, "cpu_seconds"),
        "wakeups": median_per_tool(rounds, "wakeups"),
        "load_average_1m": round(statistics.median(phase["load_average_1m"] for phase in rounds), 2),
    } for rounds in by_name]


def median_per_tool(rounds, field):
    """Each tool's median `field` (CPU seconds, wake-ups) over the rounds of one phase."""
    return {tool: round(statistics.median(phase[field][tool] for phase in rounds), 4)
            for tool in rounds[0][field]}


def cpu_per_gb(name, phases):
    """CPU seconds per GB of `name` over `phases`."""
    gigabytes = sum(bytes_of(phase, name) for phase in phases) / 1e9
    return round(sum(phase["cpu_seconds"][name] for phase in phases) / gigabytes, 4)


def percent(part, whole):
    return round(100.0 * part / whole, 2) if whole else 0.0


def peers_of(results):
    return [name for name in results["tools"] if not name.startswith("netmon")]


def verdicts(results):
    """Whether netmon meets each target, with the figures compared."""
    tools_ = results["tools"]
    netmon = tools_["netmon"]
    peers = peers_of(results)
    gso = [phase for phase in results["phases"] if phase["kind"] == "gso"]
    found = {
        "attribution": {
            "target": f">= {TARGET_ATTRIBUTION} %",
            "netmon": netmon["attributed_percent"],
            "met": netmon["attributed_percent"] >= TARGET_ATTRIBUTION,
        },
        "rss": {
            "target": f"<= {TARGET_RSS_MB} MB",
            "netmon": netmon["peak_rss_mb"],
            "met": netmon["peak_rss_mb"] <= TARGET_RSS_MB,
        },
    }
    if gso:
        best_peer = min(cpu_per_gb(peer, gso) for peer in peers)
        netmon_gso = cpu_per_gb("netmon", gso)
        found["cpu_per_gb"] = {
            "target": f"<= 1/3 of the better peer ({best_peer * TARGET_CPU_RATIO:.3f}), offloads on",
            "netmon": netmon_gso,
            "met": netmon_gso <= best_peer * TARGET_CPU_RATIO,
        }
    for phase in results["median_phases"]:
        cpu = {name: cpu_for_phase(phase, name) for name in phase["cpu_seconds"]}
        if phase["kind"] == "gso":
            best = min(cpu[peer] for peer in peers)
            found[f"cpu_seconds {phase['name']}"] = {
                "target": f"<= the better peer's CPU seconds ({best:.2f})",
                "netmon": round(cpu["netmon"], 4),
                "met": cpu["netmon"] <= best,
            }
        elif "nethogs" in cpu:
            ratio = TARGET_MTU_UDP_RATIO if "udp" in phase["name"] else TARGET_MTU_TCP_RATIO
            gigabytes = phase["ip_bytes"] / 1e9
            netmon, nethogs = (cpu[name] / gigabytes for name in ("netmon", "nethogs"))
            found[f"cpu_per_gb {phase['name']}"] = {
                "target": f"<= {ratio:.2f} x nethogs ({nethogs * ratio:.4f})",
                "netmon": round(netmon, 4),
                "met": netmon <= nethogs * ratio,
            }
    return found


def table(results):
    names = list(results["tools"])
    figures = results["tools"]
    peers = peers_of(results)
    rows = [("tool", *names, "netmon / better peer")]
    rows.append(("CPU seconds", *[f"{figures[n]['cpu_seconds']:.2f}" for n in names], ""))
    rows.append(("peak RSS (MB)", *[f"{figures[n]['peak_rss_mb']:.1f}" for n in names], ""))
    rows.append(("bytes to the right process",
                 *[f"{figures[n]['attributed_percent']:.2f} %" for n in names], ""))
    for kind, title in KINDS.items():
        phases = [phase for phase in results["phases"] if phase["kind"] == kind]
        if not phases:
            continue
        per_gb = [cpu_per_gb(n, phases) for n in names]
        best = min(cpu_per_gb(peer, phases) for peer in peers)
        rows.append((f"{title}: CPU-s per GB", *[f"{value:.3f}" for value in per_gb],
                     f"{cpu_per_gb('netmon', phases) / best:.2f}"))
        for phase in (p for p in results["median_phases"] if p["kind"] == kind):
            cpu = phase["cpu_seconds"]
            scaled = {name: cpu_for_phase(phase, name) for name in cpu}
            best_phase = min(scaled[peer] for peer in peers)
            dropped = figures["netmon"]["dropped_per_phase"][phase["name"]]
            rows.append((f"  {phase['name']} ({phase['ip_bytes'] / 1e6:.0f} MB, "
                         f"load {phase['load_average_1m']}, netmon dropped {dropped})",
                         *[f"{cpu[n]:.3f} s, {phase['wakeups'][n]:g} w, "
                           f"{figures[n]['attributed_percent_per_phase'][phase['name']]:.1f} %"
                           for n in names],
                         f"{scaled['netmon'] / best_phase:.2f}" if best_phase else "-"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["| " + " | ".join(cell.ljust(width) for cell, width in zip(row, widths)) + " |"
             for row in rows]
    lines.insert(1, "|" + "|".join("-" * (width + 2) for width in widths) + "|")
    verdict_lines = [f"{name}: netmon {v['netmon']} (target {v['target']}): "
                     f"{'met' if v['met'] else 'MISSED'}"
                     for name, v in results["verdicts"].items()]
    rounds = max(phase["rounds"] for phase in results["median_phases"])
    cells = "phase cells: CPU seconds, wake-ups (voluntary context switches), bytes to the right process"
    if rounds > 1:
        cells += f"; CPU and wake-ups the median of {rounds} rounds, MB the median moved, drops the sum"
    if results.get("alone"):
        cells += ("; each tool alone, in its own run of the mix: MB netmon's run's, the ratios "
                  "per GB each tool's run moved")
    return "\n".join(lines + ["", cells, ""]
                     + verdict_lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--netmon", required=True, type=Path, help="the netmon binary")
    parser.add_argument("--seconds", type=int, default=8, help="seconds per traffic phase")
    parser.add_argument("--baseline", type=Path,
                        help="a second netmon binary run alongside (say main's build)")
    parser.add_argument("--no-mtu", action="store_true",
                        help="skip the phases with the veth's offloads off")
    parser.add_argument("--mtu-only", action="store_true",
                        help="only the phases with the veth's offloads off")
    parser.add_argument("--rounds", type=int, default=1,
                        help="times the mix runs, each time with the tools started afresh; each "
                             "phase's CPU figures and verdict are the medians over the rounds")
    parser.add_argument("--alone", action="store_true",
                        help="each tool runs the mix by itself (the traffic runs once per tool), "
                             "so no tool shares the two vCPUs or the kernel's packet path with "
                             "another capture; phases are compared per GB each tool's run moved")
    parser.add_argument("--peers", default=",".join(PEERS),
                        help="the peers to run beside netmon, comma-separated (default: "
                             "nethogs,bandwhich); fewer peers leave the two vCPUs idler, "
                             "closer to one tool alone")
    args = parser.parse_args()
    args.peers = [peer for peer in args.peers.split(",") if peer]
    unknown = sorted(set(args.peers) - set(PEERS))
    if unknown or not args.peers:
        sys.exit(f"--peers takes one or more of {', '.join(PEERS)} (got {', '.join(unknown) or 'none'})")
    if args.rounds < 1:
        sys.exit("--rounds takes 1 or more")
    if args.no_mtu and args.mtu_only:
        sys.exit("--no-mtu and --mtu-only leave no phase to run")
    if os.geteuid() != 0:
        sys.exit("the benchmark builds network namespaces and captures packets: run it as root")
    if not args.netmon.is_file():
        sys.exit(f"no netmon binary at {args.netmon}")
    args.netmon = args.netmon.resolve()
    if args.baseline:
        if not args.baseline.is_file():
            sys.exit(f"no baseline netmon binary at {args.baseline}")
        args.baseline = args.baseline.resolve()
    print(f"benchmarking {args.seconds} s per traffic phase", file=sys.stderr)
    results = {"machine": benchlab.machine(), "seconds_per_phase": args.seconds,
               "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    # Each kind's mix in each round starts the tools afresh: a tool's cost may grow with its
    # run (nethogs keeps every process it saw), and no phase pays for the mixes before it.
    kinds = [kind for kind in KINDS
             if not (kind == "gso" and args.mtu_only) and not (kind == "mtu" and args.no_mtu)]
    measure_kind = measure_alone if args.alone else measure
    results["alone"] = args.alone
    results.update(merge_runs([measure_kind(args, round_, kind)
                               for round_ in range(1, args.rounds + 1) for kind in kinds]))
    results["verdicts"] = verdicts(results)
    results["machine"]["load_average_after"] = [
        float(value) for value in Path("/proc/loadavg").read_text().split()[:3]]
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"compare-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))
    print(f"\nJSON: {out}")


if __name__ == "__main__":
    main()

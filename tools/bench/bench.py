#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
"""nettracer's benchmark: what tracing costs, against an untraced run made side by side.

For each load (crr, rr, stream) it runs rounds of untraced / CO-RE / legacy, alternating
(A B C A B C ...), with client, server and tracer pinned to one core, and prints per
variant the rate, the ratio to untraced, CPU per operation (client + server, where the
BPF programs run), the tracer's own CPU and its peak RSS. It checks completeness (every
connection the generator made is reported exactly once, with the generator's byte
counts), start-up time (exec to the start record: everything attached), and memory and
snapshot time with 100,000 open connections. Each target is a PASS/FAIL line.

  bench.py                       everything, default sizes
  bench.py --modes crr --rounds 5 --duration 10
  bench.py --net veth            load across a veth pair between two namespaces
  bench.py --soak 600            the 10-minute soak (not in CI)
Needs root; NT_BUILD (default ./build) holds nettracer and tools/ntbench.
"""
import argparse
import collections
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

SRC = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("NT_BUILD", os.path.join(SRC, "build"))
NETTRACER = os.path.join(BUILD, "nettracer")
NTBENCH = os.path.join(BUILD, "tools", "ntbench")
TARGETS = {"crr": 0.97, "rr": 0.99, "stream": 0.995}
VARIANT_ARGS = {"core": ["--bpf=core"], "legacy": ["--bpf=legacy"]}

results_lines = []


def say(line=""):
    print(line, flush=True)
    results_lines.append(line)


def verdict(ok, what):
    say(f"{'PASS' if ok else 'FAIL'} {what}")
    return ok


def proc_cpu_s(pid):
    """utime + stime of a process, seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / tick


def proc_kib(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


class Tracer:
    """nettracer --json with its output in a file; started() waits for the start record."""

    def __init__(self, variant, cpu, extra=()):
        self.out = tempfile.NamedTemporaryFile(prefix=f"ntbench-{variant}-", suffix=".json",
                                               delete=False)
        argv = [NETTRACER, "--json", "-t", "1", "-L"] + VARIANT_ARGS[variant] + list(extra)
        if cpu is not None:
            argv = ["taskset", "-c", str(cpu)] + argv
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(argv, stdout=self.out, stderr=subprocess.PIPE,
                                     stdin=subprocess.DEVNULL)
        self.startup_s = None

    def started(self, timeout=60):
        """Wait for the start record (connections open before the start come first)."""
        deadline = time.monotonic() + timeout
        pos = 0
        while time.monotonic() < deadline:
            with open(self.out.name) as f:
                f.seek(pos)
                for line in f:
                    if not line.endswith("\n"):
                        break
                    pos += len(line.encode())
                    if '"type":"status"' in line and '"event":"start"' in line:
                        self.startup_s = time.monotonic() - self.t0
                        return
            if self.proc.poll() is not None:
                raise RuntimeError(f"tracer exited: {self.proc.stderr.read().decode()}")
            time.sleep(0.002)
        self.proc.kill()
        raise RuntimeError("tracer did not start")

    def cpu(self):
        return proc_cpu_s(self.proc.pid)

    def stop(self):
        hwm = proc_kib(self.proc.pid, "VmHWM")
        rss = proc_kib(self.proc.pid, "VmRSS")
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(60)
        with open(self.out.name) as f:
            recs = [json.loads(l) for l in f if l.startswith("{")]
        os.unlink(self.out.name)
        return recs, hwm, rss


def ntbench(mode, duration, concurrency, cpu, conn_log=None, addr="127.0.0.1", netns=None):
    """netns: (client's, server's) namespace names, or None for this one."""
    argv = [NTBENCH, "--mode", mode, "--duration", str(duration), "--concurrency",
            str(concurrency), "--addr", addr]
    if netns:
        argv += ["--client-netns", netns[0], "--server-netns", netns[1]]
    if cpu is not None:
        argv += ["--cpu", str(cpu)]
    if conn_log:
        argv += ["--conn-log", conn_log]
    if mode == "rr":
        argv += ["--req", "100", "--resp", "100"]
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=duration + 60)
    if r.returncode:
        raise RuntimeError(f"ntbench failed: {r.stderr}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def completeness(recs, conn_log, label):
    """Every connection the generator completed: one client close record with its byte
    counts and one server close record; nothing twice. A client port is used again and
    again over a run (the ephemeral range is smaller than a run's connections), so each
    port's connections are counted, in order."""
    made = {}
    dport = None
    with open(conn_log) as f:
        for line in f:
            sport, dport, sent, rcvd = map(int, line.split())
            made.setdefault(sport, []).append((sent, rcvd))
    n_made = sum(len(v) for v in made.values())
    if not n_made:
        return verdict(False, f"{label}: the generator completed no connection")
    cli, srv = {}, {}
    for r in recs:
        if r.get("type") != "close":
            continue
        if r["dport"] == dport and r["sport"] in made and r["direction"] == "out":
            cli.setdefault(r["sport"], []).append((r["bytes_sent"], r["bytes_received"]))
        elif r["sport"] == dport and r["dport"] in made and r["direction"] == "in":
            srv.setdefault(r["dport"], []).append((r["bytes_received"], r["bytes_sent"]))
    missing = extra = 0
    for sport, conns in made.items():
        want = collections.Counter(conns)
        for side in (cli.get(sport, []), srv.get(sport, [])):
            got = collections.Counter(side)
            missing += sum((want - got).values())
            # the generator logs completed connections only: the tracer may also have
            # the one in flight when the run ended (at most one more per port)
            extra += max(0, sum((got - want).values()) - 1)
    losses = [r for r in recs if r.get("type") == "loss"]
    ok = not missing and not extra
    verdict(ok, f"{label}: {n_made} connections made; {missing} close records missing or "
                f"with other byte counts, {extra} extra, over both ends (0 lost or duplicated "
                f"required)")
    if losses:
        say(f"      loss records: {losses[-1]}")
    return ok


def run_mode(mode, a):
    say(f"\n## {mode}: {a.rounds} rounds x {a.duration} s, concurrency {a.concurrency}, "
        f"{'cpu ' + str(a.cpu) if a.cpu is not None else 'no pinning'}, {a.net}")
    runs = {v: [] for v in a.variants}
    complete_ok = True
    for rnd in range(a.rounds):
        for v in a.variants:
            tr = None
            log = tempfile.NamedTemporaryFile(prefix="ntbench-conns-", delete=False).name
            if v != "untraced":
                tr = Tracer(v, a.cpu)
                tr.started()
                cpu0 = tr.cpu()
            res = ntbench(mode, a.duration, a.concurrency, a.cpu,
                          conn_log=log if mode == "crr" else None, addr=a.addr, netns=a.netns)
            if tr:
                res["tracer_cpu_s"] = tr.cpu() - cpu0
                time.sleep(1.2)	# let the last records reach user space
                recs, hwm, rss = tr.stop()
                res["tracer_hwm_kib"] = hwm
                res["loss"] = [r for r in recs if r.get("type") == "loss"]
                if mode == "crr" and rnd == a.rounds - 1:
                    complete_ok &= completeness(recs, log, f"completeness {mode} {v} "
                                                f"(round {rnd + 1}, {res['rate']:.0f}/s)")
            os.unlink(log)
            runs[v].append(res)
            say(f"   round {rnd + 1} {v:9s} rate {res['rate']:14.1f}"
                + (f"  tracer cpu {res['tracer_cpu_s']:.2f} s" if tr else ""))
    base = statistics.mean(r["rate"] for r in runs["untraced"])
    say(f"   {'variant':9s} {'rate':>14s} {'stdev':>8s} {'ratio':>6s} {'cpu/op us':>9s} "
        f"{'tracer cpu/op us':>16s} {'tracer cpu %':>12s} {'peak RSS KiB':>12s}")
    ok = True
    for v in a.variants:
        rs = runs[v]
        rate = statistics.mean(r["rate"] for r in rs)
        sd = statistics.stdev(r["rate"] for r in rs) if len(rs) > 1 else 0
        ops = sum(r["ops"] if mode != "stream" else r["bytes"] / 65536 for r in rs)
        cpu = sum(r["client_cpu_s"] + r["server_cpu_s"] for r in rs)
        tcpu = sum(r.get("tracer_cpu_s", 0) for r in rs)
        secs = sum(r["seconds"] for r in rs)
        hwm = max((r.get("tracer_hwm_kib", 0) for r in rs), default=0)
        say(f"   {v:9s} {rate:14.1f} {sd / rate * 100 if rate else 0:7.2f}% "
            f"{rate / base:6.3f} {cpu / ops * 1e6:9.2f} {tcpu / ops * 1e6:16.3f} "
            f"{tcpu / secs * 100:12.2f} {hwm:12d}")
        if v != "untraced":
            ok &= verdict(rate / base >= TARGETS[mode],
                          f"{mode} {v}: {rate / base:.3f} x untraced (target >= {TARGETS[mode]})")
            lost = sum(sum(l.get(k, 0) for k in ("lost_records", "untracked_connections",
                                                 "closed_without_record")) for r in rs
                       for l in r["loss"])
            ok &= verdict(lost == 0, f"{mode} {v}: {lost} records lost over all rounds")
    if mode == "stream":
        say("   (stream: ops are 64 KiB writes; rate is bytes/s)")
    return ok and complete_ok


def startup(a):
    say("\n## start-up: exec to the start record (all hooks attached)")
    ok = True
    cases = [("core", [], 0.150), ("legacy", ["--guess-cache=none"], 0.500),
             ("legacy", [], None)]
    for v, extra, target in cases:
        times = []
        for _ in range(a.startup):
            tr = Tracer(v, None, extra)
            tr.started()
            times.append(tr.startup_s)
            tr.stop()
        label = f"{v}{' (guessing)' if extra else ' (offsets from the cache)' if v == 'legacy' else ''}"
        say(f"   {label:32s} median {statistics.median(times) * 1000:6.1f} ms, max "
            f"{max(times) * 1000:6.1f} ms over {len(times)}")
        if target:
            ok &= verdict(statistics.median(times) <= target,
                          f"start-up {label}: median {statistics.median(times) * 1000:.0f} ms "
                          f"(target <= {target * 1000:.0f} ms)")
    return ok


def scale(a):
    n = a.scale
    pairs = (n + 1) // 2
    say(f"\n## scale: {n} open connections tracked ({pairs} loopback connections, both ends)")
    # several generators: a process may not hold more descriptors than RLIMIT_NOFILE's
    # hard limit, which root cannot raise without CAP_SYS_RESOURCE
    per = 8000
    holds = []
    for k in range(0, pairs, per):
        holds.append(subprocess.Popen([NTBENCH, "--mode", "hold", "--hold",
                                       str(min(per, pairs - k)), "--addrs", "1"],
                                      stdout=subprocess.PIPE, text=True))
    try:
        for hold in holds:
            line = hold.stdout.readline()
            if not line.startswith('{"mode":"hold"'):
                raise RuntimeError(f"ntbench hold: {line}")
        ok = True
        for v in a.variants:
            if v == "untraced":
                continue
            ok &= scale_one(v, 2 * pairs)
        return ok
    finally:
        for hold in holds:
            hold.send_signal(signal.SIGTERM)
        for hold in holds:
            hold.wait(60)


def netns_pair(tag):
    """Two namespaces joined by a veth pair: (nsA, nsB, address of A)."""
    a, b = f"ntbA{tag}", f"ntbB{tag}"
    for ns in (a, b):
        subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL)
        subprocess.run(["ip", "netns", "add", ns], check=True)
    subprocess.run(["ip", "link", "add", f"vba{tag}", "netns", a, "type", "veth", "peer", "name",
                    f"vbb{tag}", "netns", b], check=True)
    for ns, dev, ip in ((a, f"vba{tag}", f"10.79.{tag}.1"), (b, f"vbb{tag}", f"10.79.{tag}.2")):
        subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
        subprocess.run(["ip", "-n", ns, "link", "set", dev, "up"], check=True)
        subprocess.run(["ip", "-n", ns, "addr", "add", ip + "/24", "dev", dev], check=True)
        # TIME_WAIT reuse as loopback has it by default (tcp_tw_reuse=2 means loopback
        # only): without it CRR across the veth runs out of ports and swings between
        # ~3,500 and ~12,000 connections a second from one round to the next
        subprocess.run(["ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv4.tcp_tw_reuse=1"],
                       check=True)
    return a, b, f"10.79.{tag}.1"


def netns_del(*names):
    for ns in names:
        subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL)


SOAK_PORTS = (7979, 7980)	# the generators' servers (namespace pairs, loopback): only their
				# connections are counted, not the host's other traffic


def soak(a):
    """Connections at the highest rate, across namespaces, for a long time: no record lost
    or garbled, memory flat, loss counters at 0."""
    secs = a.soak
    variant = next(v for v in a.variants if v != "untraced")
    say(f"\n## soak: {secs:.0f} s of CRR at full rate across {a.soak_pairs} namespace pairs "
        f"and loopback, {variant}")
    pairs = [netns_pair(i + 1) for i in range(a.soak_pairs)]
    argv = [NETTRACER, "--json", "-t", "1", "-L"] + VARIANT_ARGS[variant]
    tracer = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=1 << 20)
    counts = collections.Counter()
    sums = collections.Counter()
    server_closes = [0]
    garbled = []
    losses = []
    stop_rec = []
    first_line = threading.Event()

    def reader():
        for raw in tracer.stdout:
            first_line.set()
            if b'"type":"close"' in raw or b'"type":"loss"' in raw or b'"type":"status"' in raw:
                try:
                    r = json.loads(raw)
                except ValueError:
                    garbled.append(raw[:200])
                    continue
                if r["type"] == "loss":
                    losses.append(r)
                elif r["type"] == "status" and r.get("event") == "stop":
                    stop_rec.append(r)
                elif r["type"] == "close" and r["direction"] == "out" and r["dport"] in SOAK_PORTS:
                    counts[(r["netns"], r["dport"])] += 1
                    sums[(r["netns"], r["dport"])] += r["bytes_sent"] + r["bytes_received"]
                elif r["type"] == "close" and r["direction"] == "in" and r["sport"] in SOAK_PORTS:
                    server_closes[0] += 1
            elif not raw.startswith(b"{"):
                garbled.append(raw[:200])

    th = threading.Thread(target=reader, daemon=True)
    th.start()
    first_line.wait(60)
    gens = []
    try:
        for ns_a, ns_b, addr in pairs:
            srv = subprocess.Popen(["ip", "netns", "exec", ns_a, NTBENCH, "--mode", "crr",
                                    "--role", "server", "--addr", addr, "--port", str(SOAK_PORTS[0])],
                                   stdout=subprocess.PIPE, text=True)
            srv.stdout.readline()
            cli = subprocess.Popen(["ip", "netns", "exec", ns_b, NTBENCH, "--mode", "crr",
                                    "--role", "client", "--addr", addr, "--port", str(SOAK_PORTS[0]),
                                    "--duration", str(secs), "--concurrency", "4"],
                                   stdout=subprocess.PIPE, text=True)
            gens.append((srv, cli, ns_b))
        lo = subprocess.Popen([NTBENCH, "--mode", "crr", "--duration", str(secs), "--concurrency",
                               "4", "--port", str(SOAK_PORTS[1])], stdout=subprocess.PIPE, text=True)
        rss = []
        t0 = time.monotonic()
        while lo.poll() is None:
            time.sleep(min(10, secs / 6))
            rss.append((time.monotonic() - t0, proc_kib(tracer.pid, "VmRSS")))
        made = 0
        for srv, cli, _ in gens:
            made += json.loads(cli.stdout.read().strip().splitlines()[-1])["ops"]
            srv.send_signal(signal.SIGTERM)
            srv.wait()
        made += json.loads(lo.stdout.read().strip().splitlines()[-1])["ops"]
        time.sleep(1.5)
        tracer.send_signal(signal.SIGTERM)
        tracer.wait(60)
        th.join(60)
    finally:
        for g in gens:
            for p in g[:2]:
                if p.poll() is None:
                    p.kill()
        netns_del(*[n for p in pairs for n in p[:2]])
    reported = sum(counts.values())
    say(f"   connections completed by the generators: {made}; client close records: {reported}; "
        f"server close records: {server_closes[0]}")
    say(f"   RSS over time (s, KiB): {', '.join(f'{t:.0f}:{k}' for t, k in rss)}")
    in_flight = 4 * (a.soak_pairs + 1) * 2
    ok = verdict(reported >= made and reported <= made + in_flight,
                 f"soak: every connection reported once ({reported} close records for {made} "
                 f"completed, at most the in-flight ones more)")
    ok &= verdict(server_closes[0] >= made and server_closes[0] <= made + in_flight,
                  f"soak: every accepted end closed once ({server_closes[0]} server close "
                  f"records for {made} completed)")
    ok &= verdict(not garbled, f"soak: no garbled line ({len(garbled)})")
    steady = [k for t, k in rss[len(rss) // 3:]]
    ok &= verdict(bool(steady) and max(steady) - min(steady) <= 2048,
                  f"soak: memory flat after warm-up (RSS {min(steady) if steady else 0}.."
                  f"{max(steady) if steady else 0} KiB)")
    total_lost = sum(l.get("lost_records", 0) + l.get("untracked_connections", 0) +
                     l.get("closed_without_record", 0) for l in losses)
    ok &= verdict(total_lost == 0, f"soak: loss counters at 0 ({total_lost}; last: "
                                   f"{losses[-1] if losses else 'none'})")
    if stop_rec:
        say(f"   stop record: {stop_rec[0]}")
    return ok


def scale_one(variant, n):
    """One tracer over n tracked connection ends: its records are counted as they stream
    by (every interval brings n metrics records; a file would grow by GBs a minute), and
    each snapshot's time is read from its -vv diagnostics."""
    argv = [NETTRACER, "--json", "-t", "1", "-L", "-vv"] + VARIANT_ARGS[variant]
    t0 = time.monotonic()
    tr = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=1 << 20)
    state = {"existing": 0, "start": None, "stop": None, "startup": None, "metrics": 0,
             "snap_us": [], "phases": None}

    def reader():
        for raw in tr.stdout:
            if b'"type":"metrics"' in raw:
                state["metrics"] += 1
            elif b'"existing":true' in raw:
                state["existing"] += 1
            elif b'"type":"status"' in raw:
                r = json.loads(raw)
                if r.get("event") == "start":
                    state["start"] = r
                    state["startup"] = time.monotonic() - t0
                else:
                    state["stop"] = r

    def err_reader():
        for raw in tr.stderr:
            m = re.search(rb"snapshot \d+: \d+ connections in (\d+) us", raw)
            if m:
                state["snap_us"].append(int(m.group(1)))
            m = re.search(rb"start-up: (.*)", raw)
            if m:
                state["phases"] = m.group(1).decode()

    th = threading.Thread(target=reader, daemon=True)
    th_err = threading.Thread(target=err_reader, daemon=True)
    th.start()
    th_err.start()
    try:
        deadline = time.monotonic() + 300
        while state["start"] is None and time.monotonic() < deadline and tr.poll() is None:
            time.sleep(0.05)
        if state["start"] is None:
            raise RuntimeError(f"{variant} tracer did not start")
        time.sleep(6.5)	# a few intervals of snapshots
        rss = proc_kib(tr.pid, "VmRSS")
        hwm = proc_kib(tr.pid, "VmHWM")
    finally:
        tr.send_signal(signal.SIGTERM)
        tr.wait(120)
        th.join(60)
        th_err.join(60)
    snaps = [us / 1000 for us in state["snap_us"]]
    steady = max(snaps[1:]) if len(snaps) > 1 else float("inf")
    say(f"   {variant}: {state['existing']} connections reported at start, start-up "
        f"{state['startup'] * 1000:.0f} ms ({state['phases']}), RSS {rss} KiB (peak {hwm} "
        f"KiB), {state['metrics']} metrics records")
    say(f"   {variant}: snapshots (ms): {' '.join(f'{x:.1f}' for x in snaps)} (the first "
        f"one finds every socket and the request list cold)")
    ok = verdict(state["existing"] >= n,
                 f"scale {variant}: all {n} connections open at start reported "
                 f"({state['existing']})")
    ok &= verdict(hwm <= 32 * 1024, f"scale {variant}: peak RSS {hwm / 1024:.1f} MiB "
                                   f"(target <= 32 MiB)")
    ok &= verdict(steady <= 50, f"scale {variant}: one interval's snapshot at most "
                                f"{steady:.1f} ms after the first (target <= 50 ms)")
    return ok


def machine():
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return (f"{platform.node()}: {os.cpu_count()} CPUs ({cpu}), kernel {platform.release()}, "
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--modes", default="crr,rr,stream")
    ap.add_argument("--variants", default="untraced,core,legacy")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=float, default=5)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--cpu", default="0", help="core to pin everything to, or 'none'")
    ap.add_argument("--net", default="loopback", choices=["loopback", "veth"],
                    help="loopback, or veth: client and server in two namespaces joined by "
                         "a veth pair")
    ap.add_argument("--startup", type=int, default=5, help="start-up runs per variant (0: skip)")
    ap.add_argument("--scale", type=int, default=100000,
                    help="open connections tracked, both ends of loopback ones (0: skip)")
    ap.add_argument("--out", help="append the report to this file")
    ap.add_argument("--soak", type=float, default=0, help="seconds of soak (0: none)")
    ap.add_argument("--soak-pairs", type=int, default=2, help="namespace pairs in the soak")
    a = ap.parse_args()
    a.cpu = None if a.cpu == "none" else int(a.cpu)
    a.variants = a.variants.split(",")
    a.addr, a.netns = "127.0.0.1", None
    if "untraced" not in a.variants:
        a.variants.insert(0, "untraced")
    if os.geteuid() != 0:
        sys.exit("bench.py: run as root")
    say(f"# nettracer benchmark — {machine()}")
    ok = True
    if a.net == "veth":
        ns_a, ns_b, _ = netns_pair(250)
        a.addr, a.netns = "10.79.250.2", (ns_a, ns_b)
    try:
        for m in a.modes.split(","):
            if m:
                ok &= run_mode(m, a)
    finally:
        if a.netns:
            netns_del(*a.netns)
    if a.startup:
        ok &= startup(a)
    if a.scale:
        ok &= scale(a)
    if a.soak:
        ok &= soak(a)
    say(f"\n{'ALL TARGETS MET' if ok else 'SOME TARGETS MISSED'}")
    if a.out:
        with open(a.out, "a") as f:
            f.write("\n".join(results_lines) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

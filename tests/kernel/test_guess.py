#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
"""The offset guesser (src/guess/): every field it finds equals what kernel BTF says
(build/tests/btf_offsets), with either way of reading kernel memory, quickly, also while
unrelated loopback traffic runs, including on the guesser's own ports and addresses in
the host namespace; a field it cannot find fails (required) or switches a part off
(optional) cleanly; the offsets cache of the legacy tracer.

The guesser's options are given explicitly here (NT_EXTRA_ARGS is not used): the test
is the same in every lane.
"""
import ctypes
import json
import mmap
import os
import re
import selectors
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time
import uuid

import ntk
from ntk import check, check_eq

BUILD = os.environ.get("NT_BUILD") or os.path.dirname(ntk.NETTRACER)
BTF_OFFSETS = os.path.join(BUILD, "tests", "btf_offsets")
VIAS = ("test_run", "trigger")
# what `--guess` reports as the way it read kernel memory, per --guess-via
PEEK_VIA = {"test_run": "test_run/raw_tp", "trigger": "trigger/syscalls/sys_enter_sched_getattr"}
GUESSED_RE = re.compile(r"^guessed in (\d+) ms: (\d+) connections, (\d+) reads of kernel "
                        r"memory via (\S+), captures via (\S+)$")


# ---- helpers -------------------------------------------------------------------------------------

def tmpdir():
    d = tempfile.mkdtemp(prefix="ntk-guess-")
    ntk.on_cleanup(lambda: shutil.rmtree(d, ignore_errors=True))
    return d


class Run:
    """One nettracer process run to its end: rc, out, err (text), wall (s), pid."""

    def __init__(self, args, cwd="/tmp", timeout=30):
        t0 = time.monotonic()
        p = subprocess.Popen([ntk.NETTRACER] + list(args), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, cwd=cwd)
        self.pid = p.pid
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
        self.wall = time.monotonic() - t0
        self.rc = p.returncode
        self.out = out.decode(errors="replace")
        self.err = err.decode(errors="replace")
        self.err_lines = self.err.splitlines()


class HeldRun:
    """nettracer started through `sh -c 'read x; exec nettracer ...'`: its pid (and so
    the guesser's ports) is known before it runs; go() lets it exec. While it runs, the
    BPF objects it holds are collected from /proc/PID/fdinfo (watch=True)."""

    def __init__(self, args, cwd="/tmp", watch=False):
        self.p = subprocess.Popen(["/bin/sh", "-c", 'read x; exec "$0" "$@"', ntk.NETTRACER]
                                  + list(args), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, cwd=cwd)
        ntk.on_cleanup(self.kill)
        self.pid = self.p.pid
        self.base = 41000 + (self.pid % 2000) * 8	# src/guess/guess.c run()
        self.held = {"progs": set(), "links": {}, "maps": set()}
        self.watch = watch

    def go(self, timeout=30):
        watcher = None
        if self.watch:
            watcher = threading.Thread(target=self._watch, daemon=True)
            watcher.start()
        t0 = time.monotonic()
        try:
            out, err = self.p.communicate(b"\n", timeout=timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            out, err = self.p.communicate()
        self.wall = time.monotonic() - t0
        if watcher:
            watcher.join(5)
        self.rc = self.p.returncode
        self.out = out.decode(errors="replace")
        self.err = err.decode(errors="replace")
        self.err_lines = self.err.splitlines()
        return self

    def _watch(self):
        while self.p.poll() is None:
            try:
                h = bpf_fds(self.pid)
            except OSError:
                break
            self.held["progs"] |= h["progs"]
            self.held["links"].update(h["links"])
            self.held["maps"] |= h["maps"]
            time.sleep(0.001)

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()


def bpf_fds(pid):
    """BPF objects a process holds descriptors on (/proc/PID/fdinfo):
    {"progs": {id}, "links": {link id: prog id}, "maps": {id}}."""
    out = {"progs": set(), "links": {}, "maps": set()}
    fddir = f"/proc/{pid}/fd"
    for fd in os.listdir(fddir):
        try:
            target = os.readlink(f"{fddir}/{fd}")
            if not target.startswith("anon_inode:bpf"):
                continue
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                info = dict(l.split(":", 1) for l in f.read().splitlines() if ":" in l)
        except OSError:
            continue
        info = {k.strip(): v.strip() for k, v in info.items()}
        if target == "anon_inode:bpf-prog" and "prog_id" in info:
            out["progs"].add(int(info["prog_id"]))
        elif target == "anon_inode:bpf_link" and "link_id" in info:
            out["links"][int(info["link_id"])] = int(info.get("prog_id", 0))
        elif target == "anon_inode:bpf-map" and "map_id" in info:
            out["maps"].add(int(info["map_id"]))
    return out


def bpftool_list(kind):
    """ntk.bpftool_names, again when bpftool loses a race with an object going away."""
    for attempt in range(5):
        try:
            return ntk.bpftool_names(kind)
        except ntk.Failed:
            if attempt == 4:
                raise
            time.sleep(0.05)


_btf = {}


def btf_offsets():
    """{field: offset} from kernel BTF, in NT_FIELDS order; Skip without BTF."""
    if "v" not in _btf:
        if not os.access(BTF_OFFSETS, os.X_OK):
            raise ntk.Skip(f"no {BTF_OFFSETS} (build the tests)")
        r = subprocess.run([BTF_OFFSETS], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
        if r.returncode == 2:
            raise ntk.Skip(f"btf_offsets: no kernel BTF here: {r.stderr.strip()}")
        _btf["v"] = (r.returncode, json.loads(r.stdout), r.stderr.strip())
    rc, offs, err = _btf["v"]
    if "rc_checked" not in _btf:
        _btf["rc_checked"] = True
        check_eq(rc, 0, "btf_offsets: every field has a BTF offset (exit status)")
        if err:
            ntk.TAP.diag(err)
    return offs


def parse_json_guess(r, label):
    """The one JSON object of `--guess --json`, or None (with a failed check)."""
    lines = r.out.splitlines()
    if not check_eq(len(lines), 1, f"{label}: stdout is one line"):
        ntk.TAP.diag(r.out[:2000])
        return None
    try:
        return json.loads(lines[0])
    except ValueError as e:
        check(False, f"{label}: stdout is JSON", f"{e}: {lines[0][:500]}")
        return None


def differences(got, want):
    """Fields whose guessed offset is not BTF's: {field: (guessed, btf)}."""
    keys = list(want) + [k for k in got if k not in want]
    return {k: (got.get(k, "absent"), want.get(k, "absent")) for k in keys
            if got.get(k, "absent") != want.get(k, "absent")}


def parse_human(out):
    """`--guess` table: ({field: offset or None}, GUESSED_RE match or None, warnings)."""
    fields, summary, warnings = {}, None, []
    for line in out.splitlines():
        m = GUESSED_RE.match(line)
        if m:
            summary = m
        elif line.startswith("warning: "):
            warnings.append(line)
        else:
            parts = line.split()
            if len(parts) >= 3 and parts[0] != "FIELD" and re.fullmatch(r"[a-z0-9_]+", parts[0]):
                fields[parts[0]] = int(parts[1]) if parts[1].isdigit() else None
    return fields, summary, warnings


def wait_stderr(tracer, pred, timeout=3.0):
    """The first stderr line of a running ntk.Tracer satisfying pred, or None."""
    deadline = time.monotonic() + timeout
    with tracer.cond:
        while True:
            for l in tracer.stderr_lines:
                if pred(l):
                    return l
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            tracer.cond.wait(min(left, 0.1))


def netns_of_tasks(pid="self"):
    """Distinct network namespace inodes of a process's threads."""
    out = set()
    for t in os.listdir(f"/proc/{pid}/task"):
        try:
            out.add(os.stat(f"/proc/{pid}/task/{t}/ns/net").st_ino)
        except OSError:
            pass
    return out


def ip_netns():
    return set(l.split()[0] for l in ntk.sh("ip", "netns", "list").stdout.splitlines() if l.strip())


# names ntk.make_netns_pair gives its namespaces: other test files, running at the same time
OTHER_TESTS_NETNS = re.compile(r"^nt[AB]\d+_\d+$")


def read_file(path):
    with open(path) as f:
        return f.read()


def listing(d):
    try:
        return sorted(os.listdir(d))
    except OSError:
        return None


# ---- 1. the offsets equal BTF's ----------------------------------------------------------------

def test_offsets_equal_btf():
    want = btf_offsets()
    check(all(v is not None for v in want.values()), "btf_offsets: no field is null",
          [k for k, v in want.items() if v is None])
    for via in VIAS:
        label = f"--guess --json --guess-via={via}"
        r = Run(["--guess", "--json", f"--guess-via={via}"])
        check_eq(r.rc, 0, f"{label}: exit status")
        if r.err.strip():
            ntk.TAP.diag(f"{label}: stderr: {r.err.strip()}")
        got = parse_json_guess(r, label)
        if got is None:
            continue
        check(list(got) == list(want), f"{label}: the fields of NT_FIELDS, in order",
              f"got  {list(got)}\nwant {list(want)}")
        nulls = [k for k, v in got.items() if v is None]
        check(not nulls, f"{label}: no field is null", nulls)
        for k in want:
            check_eq(got.get(k, "absent"), want[k], f"{label}: {k} equals BTF")


# ---- 2. quickly ---------------------------------------------------------------------------------

def test_guess_time():
    want = btf_offsets()
    for via in VIAS:
        walls, selfs = [], []
        for i in range(3):
            label = f"--guess --guess-via={via} run {i + 1}"
            r = Run(["--guess", f"--guess-via={via}"])
            check_eq(r.rc, 0, f"{label}: exit status")
            fields, summary, warnings = parse_human(r.out)
            if not check(summary, f"{label}: prints 'guessed in N ms: ...'", r.out[-1000:]):
                continue
            ms, conns, reads, peek_via, capture_via = summary.groups()
            ntk.TAP.diag(f"{label}: process {r.wall * 1000:.0f} ms wall, guessed in {ms} ms "
                         f"({conns} connections, {reads} reads via {peek_via}, captures via "
                         f"{capture_via})")
            check_eq(peek_via, PEEK_VIA[via], f"{label}: kernel memory read the way asked")
            check(not differences(fields, want), f"{label}: the table's offsets equal BTF",
                  differences(fields, want))
            check(not warnings, f"{label}: no warning", warnings)
            walls.append(r.wall)
            selfs.append(int(ms))
        if walls:
            ms_list = ", ".join(f"{w * 1000:.0f}" for w in walls)
            ntk.TAP.diag(f"--guess-via={via}: wall {ms_list} ms; self-reported "
                         f"{', '.join(map(str, selfs))} ms")
            check(max(walls) < 1.0, f"--guess-via={via}: the whole process takes < 1.0 s "
                                    f"(slowest of {len(walls)}: {max(walls):.3f} s)")
            check(max(selfs) < 500, f"--guess-via={via}: guessed in < 500 ms by its own clock "
                                    f"(slowest of {len(selfs)}: {max(selfs)} ms)")


# ---- 3. under noise -----------------------------------------------------------------------------

class Counters:
    """Counters in memory shared with forked noise workers, one pair per worker (slot):
    connections and bytes, each written by its worker alone (aligned 8-byte stores)."""

    def __init__(self, slots=64):
        self.m = mmap.mmap(-1, slots * 16)
        self.a = (ctypes.c_uint64 * (slots * 2)).from_buffer(self.m)

    def add(self, slot, conns, nbytes):
        self.a[2 * slot] += conns
        self.a[2 * slot + 1] += nbytes

    def total(self):
        v = list(self.a)
        return sum(v[0::2]), sum(v[1::2])


def listener(addr, port=0, backlog=512):
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(backlog)
    return s


def noise_server(ch, socks, echo, counters, slot):
    """Accepts on every listener; echoes (echo) or discards what comes."""
    sel = selectors.DefaultSelector()
    for s in socks:
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, "listen")
    while True:
        for key, _ in sel.select():
            s = key.fileobj
            if key.data == "listen":
                try:
                    c, _ = s.accept()
                except OSError:
                    continue
                c.setblocking(False)
                sel.register(c, selectors.EVENT_READ, "conn")
                continue
            try:
                d = s.recv(1 << 16)
            except BlockingIOError:
                continue
            except OSError:
                d = b""
            if not d:
                sel.unregister(s)
                s.close()
                continue
            counters.add(slot, 0, len(d))
            if echo:
                try:
                    s.send(d[:4096])
                except OSError:
                    pass


def noise_churn(ch, targets, binds, counters, slot):
    """connect, send, read the echo, close: again and again, over the targets in turn.
    The close is an RST, but for one in 16 with ephemeral ports: a FIN and TIME_WAIT
    too, yet not tens of thousands of TIME_WAIT sockets left behind for a minute (they
    slow down every tracer's start, which reads the existing connections)."""
    i = 0
    payload = b"n" * 300
    while True:
        dst = targets[i % len(targets)]
        src = binds[i % len(binds)] if binds else None
        i += 1
        s = socket.socket(socket.AF_INET6 if ":" in dst[0] else socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.settimeout(1.0)
            if src:
                s.bind(src)
            s.connect(dst)
            s.sendall(payload)
            n = len(s.recv(4096))
            if src or i % 16:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            counters.add(slot, 1, len(payload) + n)
        except OSError:
            time.sleep(0.001)
        finally:
            s.close()


def noise_bulk(ch, dst, counters, slot):
    """One long connection sending as fast as it can."""
    buf = b"b" * (1 << 16)
    while True:
        s = socket.create_connection(dst)
        try:
            while True:
                s.sendall(buf)
                counters.add(slot, 0, len(buf))
        except OSError:
            s.close()


class Noise:
    def __init__(self):
        self.counters = Counters()
        self.slot = 0
        self.children = []

    def spawn(self, fn, *args):
        self.slot += 1
        c = ntk.Child(fn, *args, self.counters, self.slot, comm="ntk-noise")
        self.children.append(c)
        return c

    def servers(self, specs, echo=True):
        """Listeners on (addr, port) in one server process; (addr, port) actually bound.
        A port someone else holds is left out (with a diagnostic)."""
        socks, bound = [], []
        for addr, port in specs:
            try:
                s = listener(addr, port)
            except OSError as e:
                ntk.TAP.diag(f"noise: cannot listen on {addr} port {port}: {e}")
                continue
            socks.append(s)
            bound.append((addr, s.getsockname()[1]))
        if socks:
            self.spawn(noise_server, socks, echo)
            for s in socks:
                s.close()
        return bound

    def stop(self):
        for c in self.children:
            c.kill()
        self.children = []


def have_v6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def general_noise(v6):
    """Loopback traffic of every kind, on ports of its own: connect/send/close loops to
    echo servers on 127.0.0.1, ::1 and the guesser's addresses 127.110.116.2 and
    127.98.98.2 (from 127.110.116.1 and 127.98.98.1), and bulk streams."""
    n = Noise()
    ntk.on_cleanup(n.stop)
    specs = [("127.0.0.1", 0), ("127.110.116.2", 0), ("127.98.98.2", 0)]
    echo = n.servers(specs + ([("::1", 0)] if v6 else []))
    sink = n.servers([("127.0.0.1", 0)], echo=False)
    lo = [t for t in echo if t[0] in ("127.0.0.1", "::1")]
    own = [t for t in echo if t[0].startswith(("127.110.", "127.98."))]
    binds_own = [((t[0][:-1] + "1"), 0) for t in own]
    n.spawn(noise_churn, lo, None)
    n.spawn(noise_churn, lo, None)
    n.spawn(noise_churn, own, binds_own)
    for _ in range(2):
        n.spawn(noise_bulk, sink[0])
    return n


def port_noise(kind, base, v6):
    """Traffic tied to one guesser's ports [base, base+7]:
    near    on the guesser's addresses, ports just outside its range on both ends;
    window  a service on 127.0.0.1/::1/127.110.116.2 listening on a port inside the range,
            clients on ephemeral ports;
    exact   the guesser's very port pairs (base -> base+1, base+2 -> base+3,
            base+4 -> base+5), from its addresses where it uses IPv4."""
    n = Noise()
    ntk.on_cleanup(n.stop)
    if kind == "near":
        srv = n.servers([("127.110.116.2", base + 8 + i) for i in range(4)] +
                        [("127.98.98.2", base - 4 + i) for i in range(4)])
        binds = ([("127.110.116.1", base - 8 + i) for i in range(4)] +
                 [("127.98.98.1", base + 12 + i) for i in range(4)])
        # each source with the targets on its own address
        n.spawn(noise_churn, [t for t in srv if t[0] == "127.110.116.2"], binds[:4])
        n.spawn(noise_churn, [t for t in srv if t[0] == "127.98.98.2"], binds[4:])
    elif kind == "window":
        srv = n.servers([("127.0.0.1", base + 1), ("127.110.116.2", base + 5)] +
                        ([("::1", base + 3)] if v6 else []))
        n.spawn(noise_churn, srv, None)
    elif kind == "exact":
        specs = [(("127.110.116.2", base + 1), ("127.110.116.1", base)),
                 (("127.98.98.2", base + 5), ("127.98.98.1", base + 4))]
        if v6:
            specs.append((("::1", base + 3), ("::1", base + 2)))
        srv = n.servers([s for s, _ in specs])
        for s, c in specs:
            if s in srv:
                n.spawn(noise_churn, [s], [c])
    return n


def test_noise():
    want = btf_offsets()
    v6 = have_v6_loopback()
    ntk.set_comm("ntk-guess-noise")
    general = general_noise(v6)
    time.sleep(0.3)
    c0, b0 = general.counters.total()
    time.sleep(0.5)
    c1, b1 = general.counters.total()
    ntk.TAP.diag(f"noise alone: {(c1 - c0) * 2} connections/s, {(b1 - b0) * 2 / 1e6:.0f} MB/s "
                 f"on loopback")
    check(c1 > c0 and b1 > b0, "the noise is running (connections and bytes)")
    plan = [("near", "test_run"), ("near", "trigger")] * 3 + \
           [("window", "test_run"), ("window", "trigger"), ("exact", "test_run"),
            ("exact", "trigger")]
    times = {}
    for i, (kind, via) in enumerate(plan):
        label = f"noise {kind} run {i + 1} --guess-via={via}"
        h = HeldRun(["--guess", "--json", f"--guess-via={via}"])
        pn = port_noise(kind, h.base, v6)
        time.sleep(0.15)	# the noise under way before the guesser starts
        k0 = general.counters.total()
        p0 = pn.counters.total()
        h.go()
        k1 = general.counters.total()
        p1 = pn.counters.total()
        pn.stop()
        conns = (k1[0] - k0[0]) + (p1[0] - p0[0])
        mb = ((k1[1] - k0[1]) + (p1[1] - p0[1])) / 1e6
        ntk.TAP.diag(f"{label}: ports {h.base}-{h.base + 7}, {h.wall * 1000:.0f} ms wall; "
                     f"meanwhile {conns} noise connections ({p1[0] - p0[0]} of them {kind}), "
                     f"{mb:.0f} MB")
        times.setdefault((kind, via), []).append(h.wall)
        if not check_eq(h.rc, 0, f"{label}: exit status"):
            ntk.TAP.diag(f"{label}: stderr: {h.err.strip()}")
            continue
        got = parse_json_guess(h, label)
        if got is None:
            continue
        diff = differences(got, want)
        check(not diff, f"{label}: every field equals BTF"
              + (f" (differs: {', '.join(diff)})" if diff else ""),
              "\n".join(f"{k}: guessed {g}, BTF {w}" for k, (g, w) in diff.items()))
    for (kind, via), ws in times.items():
        ntk.TAP.diag(f"under noise ({kind}), --guess-via={via}: wall "
                     f"{', '.join(f'{w * 1000:.0f}' for w in ws)} ms")


# ---- 4. a required field not found ---------------------------------------------------------------

def gs_objects():
    """ids of loaded BPF programs and maps named gs_* (the guesser's)."""
    progs = {p["id"] for p in bpftool_list("prog") if p.get("name", "").startswith("gs_")}
    maps = {m["id"] for m in bpftool_list("map") if m.get("name", "").startswith("gs_")}
    return progs, maps


def check_nothing_left(label, before, r, cwd, run_dir_before, ts_before, netns_before):
    """After a nettracer process r: none of its BPF objects is loaded, no new gs_*
    program or map stays, no namespace or file is left, host sysctl unchanged."""
    progs0, maps0 = before
    held = getattr(r, "held", None)
    deadline = time.monotonic() + 1.5	# programs go after an RCU grace period
    while True:
        progs, maps = gs_objects()
        new_p, new_m = progs - progs0, maps - maps0
        still, still_m = set(), set()
        if held:
            loaded = {p["id"] for p in bpftool_list("prog")}
            still = (held["progs"] | set(held["links"].values())) & loaded
            still_m = held["maps"] & {m["id"] for m in bpftool_list("map")}
        if not (new_p or new_m or still or still_m) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    if held is not None:
        ntk.TAP.diag(f"{label}: while it ran it held programs {sorted(held['progs'])}, links "
                     f"{sorted(held['links'])}, maps {sorted(held['maps'])}")
        check(held["progs"], f"{label}: its BPF objects were seen while it ran")
        check(not still, f"{label}: none of the programs it held is loaded", sorted(still))
        check(not still_m, f"{label}: none of the maps it held is left", sorted(still_m))
    # another guesser starting at this moment would show briefly; a leak stays
    check(not new_p, f"{label}: no new gs_* program stays loaded", sorted(new_p))
    check(not new_m, f"{label}: no new gs_* map stays", sorted(new_m))
    check(not os.path.exists(f"/proc/{r.pid}"), f"{label}: the process is gone (/proc/{r.pid})")
    check_eq(netns_of_tasks(), {netns_before}, f"{label}: this process's tasks are all in "
                                               "its one network namespace")
    new_ns = {n for n in ip_netns() - NETNS_BEFORE[0] if not OTHER_TESTS_NETNS.match(n)}
    check(not new_ns, f"{label}: ip netns shows no new namespace", sorted(new_ns))
    check_eq(listing(cwd), [], f"{label}: no file left in its working directory")
    # a legacy tracer of another test may be writing its cache there (NAME.tmp.PID)
    new_run = [n for n in set(listing("/run/nettracer") or []) - set(run_dir_before or [])
               if not re.search(r"\.tmp\.\d+$", n) or n.endswith(f".tmp.{r.pid}")]
    check(not new_run, f"{label}: no new file in /run/nettracer", new_run)
    check_eq(read_file("/proc/sys/net/ipv4/tcp_timestamps"), ts_before,
             f"{label}: host net.ipv4.tcp_timestamps unchanged")


NETNS_BEFORE = [set()]


def forced_failure(args, field, label, expect_records=False):
    cwd = tmpdir()
    before = gs_objects()
    NETNS_BEFORE[0] = ip_netns()
    run_dir = listing("/run/nettracer")
    ts = read_file("/proc/sys/net/ipv4/tcp_timestamps")
    ns = ntk.netns_inode()
    h = HeldRun(args, cwd=cwd, watch=True).go()
    ntk.TAP.diag(f"{label}: {h.wall * 1000:.0f} ms; stderr: {h.err.strip()}")
    check_eq(h.rc, 1, f"{label}: exit status")
    errors = [l for l in h.err_lines if "error" in l]
    check_eq(len(errors), 1, f"{label}: one error line on stderr")
    check(errors and field in errors[0], f"{label}: the error line names {field}", errors)
    if expect_records:
        recs = [l for l in h.out.splitlines() if l.strip()]
        status = [l for l in recs if '"status"' in l]
        check(not status, f"{label}: no status record", status)
        check_eq(h.out, "", f"{label}: nothing on stdout")
    else:
        check_eq(h.out, "", f"{label}: nothing on stdout")
        check_eq(len(h.err_lines), 1, f"{label}: exactly one line on stderr")
    check_nothing_left(label, before, h, cwd, run_dir, ts, ns)


def test_forced_failure():
    btf_offsets()	# Skip where there is no BTF, like the others
    for field in ("tcp_bytes_acked", "net_inum"):
        forced_failure(["--guess", f"--guess-hide={field}"], field,
                       f"--guess --guess-hide={field}")
    forced_failure(["--bpf=legacy", "--guess-hide=tcp_bytes_acked", "--guess-cache=none",
                    "--json"], "tcp_bytes_acked",
                   "legacy tracer --guess-hide=tcp_bytes_acked", expect_records=True)


# ---- 5. an optional field not found --------------------------------------------------------------

def compare_idle_no_rtt(tracer, label, conn_id, sock, outgoing, attempts=3):
    """Like conncheck.compare_idle, but rtt_us and rtt_var_us must be 0 (RTT off)."""
    for attempt in range(attempts):
        before = ntk.tcp_info(sock)
        t0 = time.time_ns()
        rec = tracer.wait_for(lambda r: r.get("type") == "metrics" and r.get("id") == conn_id
                              and r["ts_ns"] > t0, 10, f"metrics record of id {conn_id}")
        after = ntk.tcp_info(sock)
        if before == after or attempt == attempts - 1:
            break
        ntk.TAP.diag(f"{label}: TCP_INFO moved during the snapshot, again")
        ntk.wait_idle(0.5)
    want = ntk.expected_metrics(after, outgoing)
    want["rtt_us"] = want["rtt_var_us"] = 0
    got = {k: rec.get(k) for k in ntk.METRIC_KEYS}
    check(after["rtt"] > 0, f"{label}: the kernel has an RTT ({after['rtt']} us), so 0 means off")
    check(got == want, f"{label}: rtt_us, rtt_var_us 0; every other metric equals TCP_INFO",
          f"got  {got}\nwant {want}\nTCP_INFO {after}")


def test_optional_field_hidden():
    want = btf_offsets()
    label = "--guess --guess-hide=tcp_srtt_us"
    r = Run(["--guess", "--guess-hide=tcp_srtt_us"])
    check_eq(r.rc, 0, f"{label}: exit status")
    fields, summary, warnings = parse_human(r.out)
    check(any("tcp_srtt_us" in w for w in warnings), f"{label}: a warning names tcp_srtt_us",
          r.out[-1500:] + r.err)
    check_eq(fields.get("tcp_srtt_us", "absent"), None, f"{label}: tcp_srtt_us not found")

    label = "--guess --json --guess-hide=tcp_srtt_us"
    r = Run(["--guess", "--json", "--guess-hide=tcp_srtt_us"])
    check_eq(r.rc, 0, f"{label}: exit status")
    check(any("warning" in l and "tcp_srtt_us" in l for l in r.err_lines),
          f"{label}: a warning on stderr names tcp_srtt_us", r.err)
    got = parse_json_guess(r, label)
    if got is not None:
        check_eq(got.get("tcp_srtt_us", "absent"), None, f"{label}: tcp_srtt_us is null")
        rest = differences({k: v for k, v in got.items() if k != "tcp_srtt_us"},
                           {k: v for k, v in want.items() if k != "tcp_srtt_us"})
        check(not rest, f"{label}: every other field equals BTF", rest)

    label = "legacy tracer --guess-hide=tcp_srtt_us"
    ntk.set_comm("ntk-guess-rtt")
    t = ntk.Tracer("--bpf=legacy", "--guess-cache=none", "--guess-hide=tcp_srtt_us",
                   interval=0.3, extra=[])
    check_eq(t.start_record.get("variant"), "legacy", f"{label}: started, legacy variant")
    w = wait_stderr(t, lambda l: "warning" in l and "tcp_srtt_us" in l)
    check(w, f"{label}: a warning on stderr names tcp_srtt_us", t.stderr_lines)
    lst = listener("127.0.0.1")
    ntk.on_cleanup(lst.close)
    port = lst.getsockname()[1]
    cli = socket.create_connection(("127.0.0.1", port))
    ntk.on_cleanup(cli.close)
    srv, _ = lst.accept()
    ntk.on_cleanup(srv.close)
    cport = cli.getsockname()[1]
    conn = t.wait_for(ntk.conn_pred(sport=cport, dport=port, type="connect"), 5, "connect record")
    acc = t.wait_for(ntk.conn_pred(sport=port, dport=cport, type="accept"), 5, "accept record")
    check(conn and acc, f"{label}: connect and accept records of a loopback connection")
    cli.sendall(b"q" * 54321)
    check_eq(ntk.recv_exact(srv, 54321), 54321, f"{label}: server read the request")
    srv.sendall(b"a" * 12345)
    check_eq(ntk.recv_exact(cli, 12345), 12345, f"{label}: client read the answer")
    ntk.wait_idle()
    compare_idle_no_rtt(t, f"{label} client", conn["id"], cli, outgoing=True)
    compare_idle_no_rtt(t, f"{label} server", acc["id"], srv, outgoing=False)
    check_eq(t.stop(), 0, f"{label}: exit status after SIGTERM")


# ---- 6. the offsets cache ------------------------------------------------------------------------

def cache_run(cache, label, connection=False):
    """A legacy tracer with --guess-cache=cache, started then stopped: (tracer, start-up
    seconds from process start to the start status record)."""
    t0 = time.time_ns()
    t = ntk.Tracer("--bpf=legacy", f"--guess-cache={cache}", interval=0.3, extra=[])
    startup = (t.start_record["ts_ns"] - t0) / 1e9
    if connection:
        lst = listener("127.0.0.1")
        ntk.on_cleanup(lst.close)
        port = lst.getsockname()[1]
        cli = socket.create_connection(("127.0.0.1", port))
        ntk.on_cleanup(cli.close)
        srv, _ = lst.accept()
        ntk.on_cleanup(srv.close)
        cport = cli.getsockname()[1]
        try:
            t.wait_for(ntk.conn_pred(sport=cport, dport=port, type="connect"), 5)
            t.wait_for(ntk.conn_pred(sport=port, dport=cport, type="accept"), 5)
            check(True, f"{label}: reports a loopback connection")
        except ntk.Failed as e:
            check(False, f"{label}: reports a loopback connection", str(e))
        cli.close()
        srv.close()
        lst.close()
    # the info lines are written before the start record, but read by another thread
    wait_stderr(t, lambda l: "offsets" in l, 2.0)
    check_eq(t.stop(), 0, f"{label}: exit status after SIGTERM")
    return t, startup


def guessed_line(t):
    return [l for l in t.stderr_lines if "offsets guessed in" in l]


def cached_line(t, cache):
    return [l for l in t.stderr_lines if "offsets from the cache" in l and cache in l]


def cache_fields(text):
    out = {}
    for l in text.splitlines()[3:]:
        k, _, v = l.partition(" ")
        out[k] = int(v) if v.isdigit() else v
    return out


def test_cache():
    want = btf_offsets()
    d = tmpdir()
    cache = os.path.join(d, "offsets")
    release = os.uname().release
    boot = read_file("/proc/sys/kernel/random/boot_id").strip()

    label = "cache run 1 (no file)"
    t, first = cache_run(cache, label)
    check(guessed_line(t), f"{label}: guessed (stderr)", t.stderr_lines)
    check(not cached_line(t, cache), f"{label}: not from the cache", t.stderr_lines)
    if not check(os.path.isfile(cache), f"{label}: created {cache}"):
        return
    text = read_file(cache)
    lines = text.splitlines()
    check(lines and lines[0].startswith("nettracer-offsets 1"),
          f"{label}: first line starts with 'nettracer-offsets 1'", lines[:1])
    check(f"kernel {release}" in lines, f"{label}: holds the kernel release {release}", lines[:3])
    check(f"boot {boot}" in lines, f"{label}: holds the boot id {boot}", lines[:3])
    cached = cache_fields(text)
    diff = differences({k: cached.get(k) for k in want}, want)
    check(not diff, f"{label}: the cached offsets equal BTF", diff)
    check_eq(listing(d), ["offsets"], f"{label}: no other file next to it")

    label = "cache run 2 (valid file)"
    t, second = cache_run(cache, label, connection=True)
    check(cached_line(t, cache), f"{label}: logs that the offsets came from the cache",
          t.stderr_lines)
    check(not guessed_line(t), f"{label}: did not guess", t.stderr_lines)
    check(read_file(cache) == text, f"{label}: the file is unchanged", read_file(cache))
    ntk.TAP.diag(f"start-up (process start to start record): guessing {first * 1000:.0f} ms, "
                 f"from the cache {second * 1000:.0f} ms")
    check(second < first, f"{label}: starts faster than with guessing "
                          f"({second * 1000:.0f} ms < {first * 1000:.0f} ms)")

    bad = {
        "another boot id": text.replace(f"boot {boot}", f"boot {uuid.uuid4()}"),
        "another kernel release": text.replace(f"kernel {release}", f"kernel {release}-other"),
        "garbage": "\x00\x01 not a cache at all\nsock_family banana\n" * 20,
        "empty": "",
        # the legacy programs trust "have": a part it claims must have all its fields
        "a part claimed without its field (no sock_prot)":
            "".join(l + "\n" for l in lines if not l.startswith("sock_prot ")),
        "unknown 'have' bits": re.sub(r"(?m)^have \d+$", "have 255", text),
        "trailing bytes after a number": re.sub(r"(?m)^(sock_dport \d+)$", r"\1c", text),
    }
    check("sock_prot" in cached and "have" in cached,
          "the cache holds sock_prot and have (the damaged copies below differ from it)", cached)
    for what, content in bad.items():
        label = f"cache with {what}"
        with open(cache, "w") as f:
            f.write(content)
        t, startup = cache_run(cache, label)
        ntk.TAP.diag(f"{label}: start-up {startup * 1000:.0f} ms")
        check(not cached_line(t, cache), f"{label}: not used", t.stderr_lines)
        check(guessed_line(t), f"{label}: guessed again", t.stderr_lines)
        new = read_file(cache)
        nl = new.splitlines()
        check(nl[:3] == [lines[0], f"kernel {release}", f"boot {boot}"] and
              cache_fields(new) == cached,
              f"{label}: rewritten with this kernel, boot and the offsets", nl[:3])
        check_eq(listing(d), ["offsets"], f"{label}: no other file next to it")

    label = "unwritable cache path"
    blocker = os.path.join(d, "file")
    with open(blocker, "w") as f:
        f.write("a file, not a directory\n")
    path = os.path.join(blocker, "offsets")
    t, startup = cache_run(path, label, connection=True)
    ntk.TAP.diag(f"{label}: start-up {startup * 1000:.0f} ms")
    w = [l for l in t.stderr_lines if "warning" in l and path in l]
    check(w, f"{label}: a warning names the cache path", t.stderr_lines)
    check(guessed_line(t), f"{label}: guessed", t.stderr_lines)
    check_eq(read_file(blocker), "a file, not a directory\n", f"{label}: nothing written")


if __name__ == "__main__":
    # the noise last: what it leaves (TIME_WAIT sockets, load) is not to weigh on the others
    raise SystemExit(ntk.main([test_offsets_equal_btf, test_guess_time, test_forced_failure,
                               test_optional_field_hidden, test_cache, test_noise]))

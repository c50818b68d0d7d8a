#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
"""The three outputs against real connections: log lines (console and log file), the
table (on a terminal, redrawn on Enter, and on a pipe), and the JSON contract."""
import calendar
import ipaddress
import os
import pty
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import ntk
from ntk import check, check_eq

TS_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
CONN_TYPES = ("connect", "accept", "metrics", "close")


def ts_to_ns(ts):
    """2026-12-01T18:18:33.123456Z -> Unix ns."""
    whole, frac = ts[:-1].split(".")
    sec = calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S"))
    return sec * 10**9 + int(frac) * 1000


def tmpdir():
    d = tempfile.mkdtemp(prefix="ntk-out-")
    ntk.on_cleanup(lambda: shutil.rmtree(d, ignore_errors=True))
    return d


def loopback_pair(family=socket.AF_INET, addr="127.0.0.1"):
    lst = socket.socket(family, socket.SOCK_STREAM)
    ntk.on_cleanup(lst.close)
    lst.bind((addr, 0))
    lst.listen(8)
    port = lst.getsockname()[1]
    cli = socket.socket(family, socket.SOCK_STREAM)
    ntk.on_cleanup(cli.close)
    cli.connect((addr, port))
    srv, _ = lst.accept()
    ntk.on_cleanup(srv.close)
    return lst, cli, srv, port, cli.getsockname()[1]


def exchange(cli, srv, up, down):
    cli.sendall(b"u" * up)
    ntk.recv_exact(srv, up)
    srv.sendall(b"d" * down)
    ntk.recv_exact(cli, down)


def text_tracer(*args, interval=0.3):
    """A tracer in log or table mode (not JSON), once it has printed its first line of
    output: the start status line, or the first table."""
    t = ntk.Tracer(*args, json_mode=False, interval=interval, wait=False)
    t.wait_for(lambda r: r.get("type") == "_garbled" and
               (" status event=start " in r["line"] or " connections, interval " in r["line"]),
               15, "start line")
    return t


def text_lines(tracer):
    """stdout lines of a tracer not in JSON mode (the kit keeps them as _garbled records)."""
    return [r["line"].rstrip("\n") for r in tracer.select(lambda r: r.get("type") == "_garbled")]


# ---- logging mode --------------------------------------------------------------------------------

def parse_log_line(line):
    """A connection line: TS TYPE key=value ... LOCAL -> REMOTE key=value ...
    Returns dict(ts, type, local, remote, kv) or None when it is not one."""
    tok = line.split()
    if len(tok) < 5 or tok[1] not in CONN_TYPES or tok.count("->") != 1:
        return None
    i = tok.index("->")
    kv = dict(t.split("=", 1) for t in tok[2:] if "=" in t)
    return dict(ts=tok[0], type=tok[1], local=tok[i - 1], remote=tok[i + 1], kv=kv, line=line)


def wait_log(tracer, pred, timeout, what):
    rec = tracer.wait_for(lambda r: r.get("type") == "_garbled" and
                          (lambda p: p is not None and pred(p))(parse_log_line(r["line"].rstrip("\n"))),
                          timeout, what)
    return parse_log_line(rec["line"].rstrip("\n"))


def test_log_mode_and_file():
    d = tmpdir()
    logdir = os.path.join(d, "logs")          # created by the tracer
    interval = 0.3
    t0 = time.time_ns()
    t = text_tracer("-l", logdir, interval=interval)
    ntk.set_comm("ntk-log")
    pid, netns, comm = os.getpid(), ntk.netns_inode(), ntk.comm_of()
    lst, cli, srv, port, cport = loopback_pair()
    c_ep, s_ep = f"127.0.0.1:{cport}", f"127.0.0.1:{port}"
    conn = wait_log(t, lambda p: p["type"] == "connect" and p["local"] == c_ep and
                    p["remote"] == s_ep, 5, "connect line")
    acc = wait_log(t, lambda p: p["type"] == "accept" and p["local"] == s_ep and
                   p["remote"] == c_ep, 5, "accept line")
    for p, d_ in ((conn, "out"), (acc, "in")):
        want = {"pid": str(pid), "comm": comm, "netns": str(netns), "dir": d_}
        got = {k: p["kv"].get(k) for k in want}
        check(got == want, f"log {p['type']} line: pid=, comm=, netns=, dir=",
              f"got {got}\nwant {want}\nline {p['line']}")
        missing = [k for k in ntk.METRIC_KEYS + ["id", "state"] if k not in p["kv"]]
        check(not missing, f"log {p['type']} line carries the metrics keys", f"{missing}: {p['line']}")
        check(TS_RE.match(p["ts"]) and abs(ts_to_ns(p["ts"]) - time.time_ns()) < 5 * 10**9,
              f"log {p['type']} line starts with the UTC time", p["line"])
        check(all(p["kv"][k].isdigit() for k in ntk.METRIC_KEYS if k in p["kv"]),
              f"log {p['type']} line: metric values are numbers", p["line"])

    exchange(cli, srv, 20000, 3000)
    ntk.wait_idle()
    # metrics lines equal TCP_INFO while idle, as in JSON mode
    for p, sock, outgoing in ((conn, cli, True), (acc, srv, False)):
        for attempt in range(3):
            before = ntk.tcp_info(sock)
            t1 = time.time_ns()
            m = wait_log(t, lambda q: q["type"] == "metrics" and q["kv"].get("id") == p["kv"]["id"]
                         and ts_to_ns(q["ts"]) > t1, 5, "metrics line")
            after = ntk.tcp_info(sock)
            if before == after:
                break
        want = {k: str(v) for k, v in ntk.expected_metrics(after, outgoing).items()}
        got = {k: m["kv"].get(k) for k in ntk.METRIC_KEYS}
        check(got == want, f"log metrics line ({p['type']} end) equals TCP_INFO while idle",
              f"got  {got}\nwant {want}")
        check((m["local"], m["remote"]) == (p["local"], p["remote"]),
              f"log metrics line ({p['type']} end): endpoints", m["line"])
    time.sleep(1.0)
    t_close = time.time_ns()
    cli.close()
    srv.close()
    closes = {}
    for p, s_, r_ in ((conn, 20000, 3000), (acc, 3000, 20000)):
        c = wait_log(t, lambda q: q["type"] == "close" and q["kv"].get("id") == p["kv"]["id"], 5,
                     "close line")
        closes[p["type"]] = c
        check_eq((c["kv"].get("bytes_sent"), c["kv"].get("bytes_received")), (str(s_), str(r_)),
                 f"log close line ({p['type']} end): exact payload bytes")
        check((c["local"], c["remote"], c["kv"].get("pid")) == (p["local"], p["remote"], str(pid)),
              f"log close line ({p['type']} end): endpoints and pid", c["line"])
        # one metrics line per interval while open
        ms = [ts_to_ns(q["ts"]) for q in map(parse_log_line, text_lines(t))
              if q and q["type"] == "metrics" and q["kv"].get("id") == p["kv"]["id"]]
        span = (max(ms) - min(ms)) / 1e9 if ms else 0
        expect = span / interval + 1
        check(len(ms) >= 5 and abs(len(ms) - expect) <= 1.5 and max(ms) <= t_close + 10**9,
              f"log: {len(ms)} metrics lines of the {p['type']} end over {span:.2f} s "
              f"(interval {interval} s)", [m / 1e9 for m in ms])
    rc = t.stop()
    check_eq(rc, 0, "log mode: exit status")
    lines = text_lines(t)
    status = [l.split()[1:3] for l in lines if len(l.split()) > 2 and l.split()[1] == "status"]
    check(["status", "event=start"] in status and ["status", "event=stop"] in status,
          "log mode: status lines at start and stop", status)
    path = os.path.join(logdir, "nettracer.log")
    check(os.path.isdir(logdir), "log mode: -l DIR created")
    try:
        with open(path) as f:
            content = f.read()
    except OSError as e:
        check(False, f"log mode: {path} readable", str(e))
        return
    stdout = "".join(l + "\n" for l in lines)
    check(content == stdout, f"log mode: {path} has exactly the lines of stdout "
          f"({len(content.splitlines())} vs {len(lines)} lines)",
          f"file:\n{content[:1500]}\nstdout:\n{stdout[:1500]}")
    check(all(not l.startswith("nettracer:") for l in content.splitlines()),
          "log mode: diagnostics stay out of the log file")
    check(conn["line"] in content and closes["accept"]["line"] in content,
          "log mode: connect and close lines are in the file")
    check(t0 <= ts_to_ns(conn["ts"]) <= time.time_ns(), "log mode: timestamps are now")

    # -L: no file, no directory, same console lines
    nodir = os.path.join(d, "not-created")
    t = text_tracer("-L", "-l", nodir, interval=interval)
    lst, cli, srv, port, cport = loopback_pair()
    wait_log(t, lambda p: p["type"] == "connect" and p["local"] == f"127.0.0.1:{cport}", 5,
             "-L: connect line")
    cli.close()
    srv.close()
    wait_log(t, lambda p: p["type"] == "close" and p["local"] == f"127.0.0.1:{port}", 5,
             "-L: close line")
    check_eq(t.stop(), 0, "-L: exit status")
    check(not os.path.exists(nodir), "-L: no log directory or file created")


def test_log_reopen_on_sighup():
    """SIGHUP reopens the log file: after a rename, new lines go to a new file."""
    d = tmpdir()
    t = text_tracer("-l", d, interval=0.3)
    path = os.path.join(d, "nettracer.log")
    lst, cli, srv, port, cport = loopback_pair()
    first = wait_log(t, lambda p: p["type"] == "connect" and p["local"] == f"127.0.0.1:{cport}",
                     5, "connect line")
    time.sleep(0.3)
    os.rename(path, path + ".1")
    t.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 3
    while not os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.05)
    check(os.path.exists(path), "SIGHUP: a new log file is opened")
    lst2, cli2, srv2, port2, cport2 = loopback_pair()
    second = wait_log(t, lambda p: p["type"] == "connect" and p["local"] == f"127.0.0.1:{cport2}",
                      5, "connect line after SIGHUP")
    check_eq(t.stop(), 0, "SIGHUP: process goes on, then exits 0")
    with open(path + ".1") as f:
        old = f.read()
    with open(path) as f:
        new = f.read() if os.path.exists(path) else ""
    check(first["line"] in old and second["line"] not in old,
          "SIGHUP: the renamed file has the lines from before only")
    check(second["line"] in new and first["line"] not in new,
          "SIGHUP: the new file has the lines from after")
    stdout = "".join(l + "\n" for l in text_lines(t))
    check(old + new == stdout, "SIGHUP: old + new file == stdout, nothing lost or doubled",
          f"old {len(old)} new {len(new)} stdout {len(stdout)}")
    check(not t.stderr_lines or all("warning" not in l for l in t.stderr_lines),
          "SIGHUP: no warning", t.stderr_lines)


def test_log_dir_unwritable():
    d = tmpdir()
    afile = os.path.join(d, "regular-file")
    with open(afile, "w") as f:
        f.write("x")
    cases = [
        ("a path under a regular file", os.path.join(afile, "sub")),
        ("a regular file", afile),
        ("a missing directory under /proc", "/proc/ntk-no-such-dir/logs"),
        ("/proc/self (no files can be created)", "/proc/self"),
        ("/sys/kernel (read-only)", "/sys/kernel"),
    ]
    for label, path in cases:
        for mode in ([], ["-t", "1"]):
            r = subprocess.run([ntk.NETTRACER, "-l", path] + mode + ntk.EXTRA_ARGS,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               stdin=subprocess.DEVNULL, text=True, timeout=20, cwd="/tmp")
            lines = r.stderr.splitlines()
            ok = (r.returncode == 1 and r.stdout == "" and len(lines) == 1 and
                  path in lines[0] and "log" in lines[0])
            check(ok, f"-l {label}: one line naming {path}, exit status 1, no stdout",
                  f"rc={r.returncode} stdout={r.stdout[:300]!r} stderr={r.stderr!r}")
    with open(afile) as f:
        check_eq(f.read(), "x", "the regular file is left as it was")
    check(not os.path.exists("/proc/self/nettracer.log"), "nothing created in /proc")


# ---- table mode ----------------------------------------------------------------------------------

CLEAR = b"\033[H\033[2J"
# the columns nettracer(8) documents, in order
TABLE_TITLES = ["PID", "COMM", "NETNS", "DIR", "LOCAL", "REMOTE", "STATE", "BYTES_SENT",
                "BYTES_RECV", "PKTS_SENT", "PKTS_RECV", "RETRANS", "RTT_US", "RTTVAR_US"]


class PtyTracer:
    """nettracer -d on a pseudo-terminal: everything it writes is collected."""

    def __init__(self, *args):
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen([ntk.NETTRACER, "-d"] + list(args) + ntk.EXTRA_ARGS,
                                     stdin=slave, stdout=slave, stderr=subprocess.PIPE,
                                     cwd="/tmp", start_new_session=True)
        os.close(slave)
        ntk.on_cleanup(self.close)
        self.data = b""
        self.last = time.monotonic()
        self.cond = threading.Condition()
        self.th = threading.Thread(target=self._read, daemon=True)
        self.th.start()

    def _read(self):
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:         # EIO: the other side is gone
                chunk = b""
            with self.cond:
                if not chunk:
                    self.eof = True
                    self.cond.notify_all()
                    return
                self.data += chunk
                self.last = time.monotonic()
                self.cond.notify_all()

    def wait(self, pred, timeout):
        deadline = time.monotonic() + timeout
        with self.cond:
            while not pred(self.data):
                left = deadline - time.monotonic()
                if left <= 0 or getattr(self, "eof", False):
                    return False
                self.cond.wait(min(left, 0.1))
            return True

    def quiet(self, secs=0.3, timeout=5):
        """Wait until nothing has come for secs."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.cond:
                if time.monotonic() - self.last >= secs:
                    return self.data
            time.sleep(0.05)
        return self.data

    def press_enter(self):
        os.write(self.master, b"\n")

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.th.join(2)
        try:
            os.close(self.master)
        except OSError:
            pass


def split_table(block):
    """(summary line, header titles, rows as token lists) of one drawn table."""
    lines = [l for l in block.replace("\r", "").split("\n") if l.strip()]
    if len(lines) < 2:
        return None, [], []
    return lines[0], lines[1].split(), [l.split() for l in lines[2:]]


def find_row(titles, rows, **want):
    idx = {k: titles.index(k) for k in want if k in titles}
    if len(idx) != len(want):
        return None
    for r in rows:
        if len(r) == len(titles) and all(r[idx[k]] == v for k, v in want.items()):
            return dict(zip(titles, r))
    return None


def check_table_shape(blocks, label, titles0):
    for i, b in enumerate(blocks):
        summary, titles, rows = split_table(b)
        check(summary and TS_RE.match(summary.split()[0]) and "connections" in summary,
              f"{label} table {i}: summary line with the time", summary)
        check_eq(titles, titles0, f"{label} table {i}: same column titles")
        bad = [r for r in rows if len(r) != len(titles0)]
        check(not bad, f"{label} table {i}: every row has {len(titles0)} tokens ({len(rows)} rows)",
              bad[:3])


def test_table_refresh_on_enter():
    ntk.set_comm("ntk-table")
    pid, netns, comm = os.getpid(), ntk.netns_inode(), ntk.comm_of()
    pt = PtyTracer("-t", "60")
    ok = pt.wait(lambda d: d.count(CLEAR) >= 1 and b"RTTVAR_US" in d.split(CLEAR)[-1], 15)
    if not check(ok, "table on a terminal: first table drawn at the start",
                 f"rc={pt.proc.poll()} output={pt.data[-500:]!r}"):
        return
    first = pt.quiet()
    lst, cli, srv, port, cport = loopback_pair()
    exchange(cli, srv, 4000, 5000)
    n0 = first.count(CLEAR)
    t_enter = time.monotonic()
    pt.press_enter()
    ok = pt.wait(lambda d: d.count(CLEAR) > n0 and b"RTTVAR_US" in d.split(CLEAR)[-1], 5)
    delay = time.monotonic() - t_enter
    check(ok and delay < 2.0, f"Enter: table redrawn at once ({delay:.2f} s, interval 60 s)")
    data = pt.quiet()
    blocks = [b.decode(errors="replace") for b in data.split(CLEAR)[1:]]
    titles0 = split_table(blocks[0])[1]
    check_eq(titles0, TABLE_TITLES, "table header: the documented columns")
    if len(blocks) < 2:
        return
    _, titles, rows = split_table(blocks[n0])
    c_row = find_row(titles, rows, LOCAL=f"127.0.0.1:{cport}", REMOTE=f"127.0.0.1:{port}")
    s_row = find_row(titles, rows, LOCAL=f"127.0.0.1:{port}", REMOTE=f"127.0.0.1:{cport}")
    for row, d_, what in ((c_row, "out", "client"), (s_row, "in", "server")):
        got = row and {k: row.get(k) for k in ("PID", "COMM", "NETNS", "DIR", "STATE")}
        want = {"PID": str(pid), "COMM": comm, "NETNS": str(netns), "DIR": d_,
                "STATE": "ESTABLISHED"}
        check(got == want, f"Enter: the redrawn table has the new connection's {what} row",
              f"got {got}\nwant {want}\n{blocks[n0]}")

    # closed: gone from the next table
    cli.close()
    srv.close()
    time.sleep(0.3)
    n1 = data.count(CLEAR)
    pt.press_enter()
    ok = pt.wait(lambda d: d.count(CLEAR) > n1 and b"RTTVAR_US" in d.split(CLEAR)[-1], 5)
    check(ok, "Enter again: redrawn")
    data = pt.quiet()
    blocks = [b.decode(errors="replace") for b in data.split(CLEAR)[1:]]
    _, titles, rows = split_table(blocks[-1])
    gone = not any(f"127.0.0.1:{cport}" in r for r in rows)
    check(gone, "closed connection is gone from the next table")
    check_table_shape(blocks, "terminal", titles0)
    # nothing but tables: no stray lines (diagnostics go to stderr)
    check(data.startswith(CLEAR), "terminal: output starts with the clear-screen sequence",
          data[:80])
    pt.proc.send_signal(signal.SIGTERM)
    try:
        rc = pt.proc.wait(10)
    except subprocess.TimeoutExpired:
        rc = None
    check_eq(rc, 0, "table on a terminal: SIGTERM exit status")

    # a pipe: blocks one after the other, no escape codes
    t = text_tracer("-d", interval=0.3)
    lst, cli, srv, port, cport = loopback_pair()
    time.sleep(1.2)
    cli.close()
    srv.close()
    time.sleep(0.4)
    check_eq(t.stop(), 0, "table on a pipe: exit status")
    lines = text_lines(t)
    raw = "\n".join(lines)
    check("\033" not in raw and "\r" not in raw, "table on a pipe: no escape codes",
          repr(raw[:200]))
    blocks, cur = [], []
    for l in lines:
        if not l.strip():
            if cur:
                blocks.append("\n".join(cur))
            cur = []
        else:
            cur.append(l)
    if cur:
        blocks.append("\n".join(cur))
    check(len(blocks) >= 4, f"table on a pipe: one block per interval ({len(blocks)} blocks in ~1.6 s)")
    check_table_shape(blocks, "pipe", titles0)
    seen = [b for b in blocks if find_row(split_table(b)[1], split_table(b)[2],
                                          LOCAL=f"127.0.0.1:{cport}", REMOTE=f"127.0.0.1:{port}")]
    check(len(seen) >= 2, f"table on a pipe: the connection's row in {len(seen)} blocks")


# ---- JSON contract -------------------------------------------------------------------------------

CONTRACT = {
    "type": str, "ts_ns": int, "family": int, "saddr": str, "sport": int, "daddr": str,
    "dport": int, "pid": int, "comm": str, "netns": int, "direction": str, "bytes_sent": int,
    "bytes_received": int, "packets_sent": int, "packets_received": int, "retransmits": int,
    "rtt_us": int, "rtt_var_us": int,
}


def contract_problems(r, t_lo, t_hi):
    """What is wrong with one connection record, as a list of strings."""
    bad = []
    for k, typ in CONTRACT.items():
        if k not in r:
            bad.append(f"no {k}")
        elif type(r[k]) is not typ:        # bool is not an int here
            bad.append(f"{k} is {type(r[k]).__name__}")
    if bad:
        return bad
    if r["type"] not in CONN_TYPES:
        bad.append(f"type {r['type']}")
    if not t_lo <= r["ts_ns"] <= t_hi:
        bad.append(f"ts_ns {r['ts_ns']} outside [{t_lo}, {t_hi}]")
    if r["family"] not in (4, 6):
        bad.append(f"family {r['family']}")
    for k in ("saddr", "daddr"):
        try:
            a = ipaddress.ip_address(r[k])
            if a.version != r["family"]:
                bad.append(f"{k} {r[k]} is not IPv{r['family']}")
            if str(a) != r[k]:
                bad.append(f"{k} {r[k]} not in standard form ({a})")
        except ValueError:
            bad.append(f"{k} {r[k]!r} is not an address")
    for k in ("sport", "dport"):
        if not 0 < r[k] < 65536:
            bad.append(f"{k} {r[k]}")
    if r["direction"] not in ("in", "out"):
        bad.append(f"direction {r['direction']!r}")
    for k in ntk.METRIC_KEYS + ["pid", "netns"]:
        if r[k] < 0:
            bad.append(f"{k} negative")
    if "existing" in r and r["existing"] is not True:
        bad.append(f"existing is {r['existing']!r}")
    return bad


def test_json_contract():
    ntk.set_comm("ntk-json")
    pid, netns = os.getpid(), ntk.netns_inode()
    t_begin = time.time_ns()
    t = ntk.Tracer(interval=0.3)
    pairs = []
    fams = [(socket.AF_INET, "127.0.0.1", 4)]
    if os.path.exists("/proc/net/if_inet6"):
        fams.append((socket.AF_INET6, "::1", 6))
    for fam, addr, fnum in fams:
        before = time.time_ns()
        lst, cli, srv, port, cport = loopback_pair(fam, addr)
        after = time.time_ns()
        exchange(cli, srv, 1500, 2500)
        pairs.append((fnum, addr, cli, srv, port, cport, before, after))
    for fnum, addr, cli, srv, port, cport, before, after in pairs:
        conn = t.wait_for(ntk.conn_pred(sport=cport, dport=port, type="connect"), 5, "connect")
        acc = t.wait_for(ntk.conn_pred(sport=port, dport=cport, type="accept"), 5, "accept")
        for r in (conn, acc):
            check(before - 10**8 <= r["ts_ns"] <= after + 10**8,
                  f"IPv{fnum} {r['type']}: ts_ns within 100 ms of the time.time_ns() of the "
                  f"connect ({(r['ts_ns'] - before) / 1e6:.1f} ms after)")
            want = dict(pid=pid, comm="ntk-json", netns=netns, saddr=addr, daddr=addr,
                        family=fnum, direction="out" if r["type"] == "connect" else "in")
            got = {k: r.get(k) for k in want}
            check(got == want and "existing" not in r,
                  f"IPv{fnum} {r['type']}: pid, comm, netns, addresses, family, direction, "
                  "not existing", f"got {r}\nwant {want}")
        t.wait_for(ntk.conn_pred(sport=cport, dport=port, type="metrics"), 5, "metrics")
        t.wait_for(ntk.conn_pred(sport=port, dport=cport, type="metrics"), 5, "metrics")
    for fnum, addr, cli, srv, port, cport, *_ in pairs:
        cli.close()
        srv.close()
        t.wait_for(ntk.conn_pred(sport=cport, dport=port, type="close"), 5, "close")
        t.wait_for(ntk.conn_pred(sport=port, dport=cport, type="close"), 5, "close")
    rc = t.stop()
    t_end = time.time_ns()
    check_eq(rc, 0, "exit status")

    garbled = t.select(lambda r: r.get("type") == "_garbled")
    check(not garbled, "every stdout line is one JSON object", garbled[:3])
    check(all(isinstance(r, dict) and isinstance(r.get("type"), str) and type(r.get("ts_ns")) is int
              for r in t.records), "every record has a string type and an integer ts_ns")
    # every connection record of the session, other processes' included
    conn_recs = t.select(lambda r: r.get("type") in CONN_TYPES)
    problems = [(r, p) for r in conn_recs for p in [contract_problems(r, t_begin, t_end)] if p]
    check(not problems, f"all {len(conn_recs)} connection records carry the contract keys "
          "with the right types and values", problems[:5])
    for fnum, addr, cli, srv, port, cport, *_ in pairs:
        mine = t.select(lambda r: {r.get("sport"), r.get("dport")} == {port, cport})
        types = sorted(r["type"] for r in mine if r["type"] != "metrics")
        check_eq(types, ["accept", "close", "close", "connect"], f"IPv{fnum}: records of the pair")
        check(any(r["type"] == "metrics" for r in mine), f"IPv{fnum}: metrics records")
    status = t.select(lambda r: r.get("type") == "status")
    check_eq([r.get("event") for r in status], ["start", "stop"], "status records: start, stop")
    check(all(t_begin <= r["ts_ns"] <= t_end for r in status), "status records: ts_ns is now")
    ts = [r["ts_ns"] for r in t.records if r.get("type") in ("status", "metrics")]
    check(ts == sorted(ts), "status and metrics records come in time order")


if __name__ == "__main__":
    raise SystemExit(ntk.main([test_log_mode_and_file, test_log_reopen_on_sighup,
                               test_log_dir_unwritable, test_table_refresh_on_enter,
                               test_json_contract]))

#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
"""Lifecycle of the tracer process: nothing left in the kernel after SIGTERM or SIGKILL,
connections open before the start, SIGINT, --duration, the privilege check, the command
line's error messages, --no-loopback."""
import json
import os
import signal
import socket
import subprocess
import time

import ntk
from ntk import check, check_eq
from conncheck import check_identity, compare_idle


def run_nt(args, timeout=20, **kw):
    """nettracer run to its end: (rc, stdout, stderr), text."""
    r = subprocess.run([ntk.NETTRACER] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, timeout=timeout,
                       cwd="/tmp", text=True, errors="replace", **kw)
    return r.returncode, r.stdout, r.stderr


def loopback_pair(family=socket.AF_INET, listen_addr="127.0.0.1", connect_addr="127.0.0.1"):
    """(listener, client, server, listen port, client port), closed at cleanup."""
    lst = socket.socket(family, socket.SOCK_STREAM)
    ntk.on_cleanup(lst.close)
    if family == socket.AF_INET6:
        lst.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    lst.bind((listen_addr, 0))
    lst.listen(8)
    port = lst.getsockname()[1]
    cli = socket.socket(family, socket.SOCK_STREAM)
    ntk.on_cleanup(cli.close)
    cli.connect((connect_addr, port))
    srv, _ = lst.accept()
    ntk.on_cleanup(srv.close)
    return lst, cli, srv, port, cli.getsockname()[1]


def exchange(cli, srv, up, down, label):
    cli.sendall(b"u" * up)
    check_eq(ntk.recv_exact(srv, up), up, f"{label}: server read {up} bytes")
    srv.sendall(b"d" * down)
    check_eq(ntk.recv_exact(cli, down), down, f"{label}: client read {down} bytes")


# ---- nothing left behind --------------------------------------------------------------------------

def bpf_fds(pid):
    """BPF objects a process holds file descriptors on, from /proc/PID/fdinfo:
    {"progs": {id}, "links": {link id: prog id}, "maps": {id}}."""
    out = {"progs": set(), "links": {}, "maps": set()}
    fddir = f"/proc/{pid}/fd"
    for fd in os.listdir(fddir):
        try:
            target = os.readlink(f"{fddir}/{fd}")
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
    """ntk.bpftool_names, again when bpftool fails: it can lose a race with an object
    that goes away while it walks the ids (other processes load and unload BPF too)."""
    for attempt in range(5):
        try:
            return ntk.bpftool_names(kind)
        except ntk.Failed:
            if attempt == 4:
                raise
            time.sleep(0.05)


def leftovers(prog_ids, link_ids, map_ids):
    """What of these BPF objects the kernel still shows."""
    progs = [p for p in bpftool_list("prog") if p["id"] in prog_ids]
    links = [l for l in bpftool_list("link")
             if l["id"] in link_ids or l.get("prog_id") in prog_ids]
    maps = [m for m in bpftool_list("map") if m["id"] in map_ids]
    return progs, links, maps


def no_leftovers(sig, label):
    before = {p["id"] for p in bpftool_list("prog")}
    ntk.set_comm("ntk-leftover")
    t = ntk.Tracer(interval=0.3)
    # one connection, so every hook has run at least once
    lst, cli, srv, port, cport = loopback_pair()
    t.wait_for(ntk.conn_pred(sport=cport, dport=port, type="connect"), 5, "connect record")
    t.wait_for(ntk.conn_pred(sport=port, dport=cport, type="accept"), 5, "accept record")
    exchange(cli, srv, 1000, 1000, label)
    t.wait_for(ntk.conn_pred(sport=cport, dport=port, type="metrics"), 5, "metrics record")
    cli.close()
    srv.close()
    t.wait_for(ntk.conn_pred(sport=cport, dport=port, type="close"), 5, "close record")

    # its programs: new since the start, named nt_*, and held by the tracer process
    new_nt = {p["id"]: p.get("name", "") for p in bpftool_list("prog")
              if p["id"] not in before and p.get("name", "").startswith("nt_")}
    held = bpf_fds(t.proc.pid)
    prog_ids = held["progs"] | set(held["links"].values())
    check(prog_ids and prog_ids <= set(new_nt),
          f"{label}: the tracer's programs are all new nt_* programs ({len(prog_ids)})",
          f"held {sorted(prog_ids)}\nnew nt_* {new_nt}")
    prog_ids &= set(new_nt)
    names = sorted(new_nt[i] for i in prog_ids)
    link_ids = set(held["links"])
    linked = {l["id"] for l in bpftool_list("link") if l.get("prog_id") in prog_ids}
    check(link_ids and linked == link_ids,
          f"{label}: bpftool shows the tracer's links ({len(link_ids)})",
          f"held {sorted(link_ids)}\nbpftool {sorted(linked)}")
    ntk.TAP.diag(f"{label}: programs {names}, links {sorted(link_ids)}, maps {sorted(held['maps'])}")
    # the same look-up that must come back empty later finds them all now
    progs, links, maps = leftovers(prog_ids, link_ids | linked, held["maps"])
    check_eq((len(progs), len(links), len(maps)), (len(prog_ids), len(link_ids), len(held["maps"])),
             f"{label}: bpftool shows its programs, links, maps while it runs")

    rc = t.stop(sig)
    if sig == signal.SIGTERM:
        check_eq(rc, 0, f"{label}: exit status")
        check(t.select(lambda r: r.get("type") == "status" and r.get("event") == "stop"),
              f"{label}: stop status record")
    else:
        check_eq(rc, -sig, f"{label}: killed by the signal")
    # the kernel frees programs after an RCU grace period: a short while, not more
    deadline = time.monotonic() + 2.0
    while True:
        progs, links, maps = leftovers(prog_ids, link_ids | linked, held["maps"])
        if not (progs or links or maps) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    check(not progs, f"{label}: none of its programs is left",
          [(p["id"], p.get("name")) for p in progs])
    check(not links, f"{label}: none of its links is left", links)
    check(not maps, f"{label}: none of its maps is left",
          [(m["id"], m.get("name")) for m in maps])


def test_no_leftovers_after_sigterm():
    no_leftovers(signal.SIGTERM, "SIGTERM")


def test_no_leftovers_after_sigkill():
    no_leftovers(signal.SIGKILL, "SIGKILL")


# ---- connections open before the start -----------------------------------------------------------

def existing_server(ch, up, down, more_up, more_down):
    """Listener and accepted end in a process of their own (forked before the test's
    other sockets exist, so that it holds none of them)."""
    lst = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lst.bind(("127.0.0.1", 0))
    lst.listen(4)
    ch.send(lst.getsockname()[1])
    c, _ = lst.accept()
    ntk.recv_exact(c, up)
    c.sendall(b"d" * down)
    ch.send("exchanged")
    ch.recv(60)            # "more"
    ntk.recv_exact(c, more_up)
    c.sendall(b"d" * more_down)
    ch.recv(30)            # "close"
    c.close()
    lst.close()
    ch.send("closed")
    ch.recv(30)            # "exit"


def test_preexisting_connection():
    """Connections made before the start: reported once at the start with existing: true,
    direction from the listeners, metrics = TCP_INFO, close bytes counted from the beginning."""
    ntk.set_comm("ntk-exist")
    pid, netns, comm = os.getpid(), ntk.netns_inode(), ntk.comm_of()
    # server end in another process: its pid and comm, not ours
    xs = ntk.Child(existing_server, 5000, 6000, 700, 800, comm="ntk-exsrv")
    xport = xs.recv()
    xcli = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ntk.on_cleanup(xcli.close)
    xcli.connect(("127.0.0.1", xport))
    xcport = xcli.getsockname()[1]
    xcli.sendall(b"u" * 5000)
    check_eq(ntk.recv_exact(xcli, 6000), 6000, "existing, server in a child: client read")
    check_eq(xs.recv(), "exchanged", "existing, server in a child: exchanged")
    cases = [
        # label, family, listen on, connect to, address reported; listener on one address
        ("existing v4", socket.AF_INET, "127.0.0.1", "127.0.0.1", "127.0.0.1", 4),
    ]
    if os.path.exists("/proc/net/if_inet6"):
        # a dual-stack listener on :: (any address)
        cases.append(("existing v6", socket.AF_INET6, "::", "::1", "::1", 6))
    else:
        ntk.TAP.diag("no IPv6: the v6 case is left out")
    conns = []
    for label, fam, laddr, caddr, addr, fnum in cases:
        lst, cli, srv, port, cport = loopback_pair(fam, laddr, caddr)
        up, down = 100000 + fnum, 54321 + fnum
        exchange(cli, srv, up, down, f"{label} before the start")
        conns.append(dict(label=label, cli=cli, srv=srv, port=port, cport=cport, addr=addr,
                          fam=fnum, up=up, down=down))
    ntk.wait_idle(0.2)

    t = ntk.Tracer(interval=0.3)
    for c in conns:
        label, port, cport, addr = c["label"], c["port"], c["cport"], c["addr"]
        # existing connections are reported before the start status record: all are here
        mine_c = t.select(lambda r: r.get("sport") == cport and r.get("dport") == port)
        mine_s = t.select(lambda r: r.get("sport") == port and r.get("dport") == cport)
        check_eq([r["type"] for r in mine_c], ["connect"], f"{label}: client end reported once")
        check_eq([r["type"] for r in mine_s], ["accept"], f"{label}: server end reported once")
        if not (mine_c and mine_s):
            continue
        conn, acc = mine_c[0], mine_s[0]
        check_identity(conn, f"{label} client", type="connect", family=c["fam"], saddr=addr,
                       sport=cport, daddr=addr, dport=port, pid=pid, comm=comm, netns=netns,
                       direction="out")
        check_identity(acc, f"{label} server", type="accept", family=c["fam"], saddr=addr,
                       sport=port, daddr=addr, dport=cport, pid=pid, comm=comm, netns=netns,
                       direction="in")
        check(conn.get("existing") is True and acc.get("existing") is True,
              f"{label}: both ends carry existing: true",
              f"client {conn.get('existing')!r} server {acc.get('existing')!r}")
        check(conn["ts_ns"] <= t.start_record["ts_ns"] and acc["ts_ns"] <= t.start_record["ts_ns"],
              f"{label}: reported before the start status record")
        check(conn["id"] != acc["id"], f"{label}: the two ends have different ids")
        c["conn"], c["acc"] = conn, acc

    # the server in the child process
    mine_c = t.select(lambda r: r.get("sport") == xcport and r.get("dport") == xport)
    mine_s = t.select(lambda r: r.get("sport") == xport and r.get("dport") == xcport)
    check_eq([r["type"] for r in mine_c], ["connect"], "existing, child server: client end once")
    check_eq([r["type"] for r in mine_s], ["accept"], "existing, child server: server end once")
    for rec, typ, sp, dp, p_, cm, d in ((mine_c, "connect", xcport, xport, pid, comm, "out"),
                                        (mine_s, "accept", xport, xcport, xs.pid, "ntk-exsrv", "in")):
        if rec:
            check_identity(rec[0], f"existing, child server: {d} end", type=typ, family=4,
                           saddr="127.0.0.1", sport=sp, daddr="127.0.0.1", dport=dp, pid=p_,
                           comm=cm, netns=netns, direction=d)
            check(rec[0].get("existing") is True, f"existing, child server: {d} end existing: true")

    conns = [c for c in conns if "conn" in c]
    ntk.wait_idle()
    for c in conns:
        compare_idle(t, f"{c['label']} client", c["conn"]["id"], c["cli"], outgoing=True)
        compare_idle(t, f"{c['label']} server", c["acc"]["id"], c["srv"], outgoing=False)

    # more data after the start, then close: totals from the very beginning
    for c in conns:
        exchange(c["cli"], c["srv"], 7777, 8888, f"{c['label']} after the start")
        c["cli"].close()
        c["srv"].close()
    for c in conns:
        for rid, who, s_, r_ in ((c["conn"]["id"], "client", c["up"] + 7777, c["down"] + 8888),
                                  (c["acc"]["id"], "server", c["down"] + 8888, c["up"] + 7777)):
            rec = t.wait_for(lambda r: r.get("type") == "close" and r.get("id") == rid, 10,
                             f"{c['label']} {who} close record")
            check_eq((rec["bytes_sent"], rec["bytes_received"]), (s_, r_),
                     f"{c['label']} {who}: exact payload bytes since the connection began")
    xcli.sendall(b"u" * 700)
    xs.send("more")
    check_eq(ntk.recv_exact(xcli, 800), 800, "existing, child server: client read after the start")
    xcli.close()
    xs.send("close")
    check_eq(xs.recv(), "closed", "existing, child server: closed")
    xs.send("exit")
    xs.wait()
    if mine_c and mine_s:
        for rid, who, s_, r_ in ((mine_c[0]["id"], "client", 5700, 6800),
                                  (mine_s[0]["id"], "server", 6800, 5700)):
            rec = t.wait_for(lambda r: r.get("type") == "close" and r.get("id") == rid, 10,
                             f"existing, child server: {who} close record")
            check_eq((rec["bytes_sent"], rec["bytes_received"]), (s_, r_),
                     f"existing, child server: {who}: exact payload bytes since the beginning")
    rc = t.stop()
    check_eq(rc, 0, "exit status")
    for c in conns:
        n = len(t.select(lambda r: r.get("type") in ("connect", "accept", "close") and
                         {r.get("sport"), r.get("dport")} == {c["port"], c["cport"]}))
        check_eq(n, 4, f"{c['label']}: connect+accept+2 close records, no more")


def test_preexisting_half_closed():
    """A connection the client had shut down (SHUT_WR) before the start: client end in
    FIN_WAIT2, server end in CLOSE_WAIT. Both are reported, and the payload bytes at
    close leave the FINs out."""
    ntk.set_comm("ntk-halfcl")
    pid, netns, comm = os.getpid(), ntk.netns_inode(), ntk.comm_of()
    lst, cli, srv, port, cport = loopback_pair()
    exchange(cli, srv, 30000, 4000, "half-closed before the start")
    cli.shutdown(socket.SHUT_WR)
    check_eq(srv.recv(10), b"", "half-closed: the server saw the FIN")
    ntk.wait_idle(0.3)
    t = ntk.Tracer(interval=0.3)
    mine_c = t.select(lambda r: r.get("sport") == cport and r.get("dport") == port)
    mine_s = t.select(lambda r: r.get("sport") == port and r.get("dport") == cport)
    check_eq([(r["type"], r.get("state"), r.get("existing")) for r in mine_c],
             [("connect", "FIN_WAIT2", True)], "half-closed: client end reported, FIN_WAIT2")
    check_eq([(r["type"], r.get("state"), r.get("existing")) for r in mine_s],
             [("accept", "CLOSE_WAIT", True)], "half-closed: server end reported, CLOSE_WAIT")
    if not (mine_c and mine_s):
        return
    for rec, typ, sp, dp, d in ((mine_c[0], "connect", cport, port, "out"),
                                (mine_s[0], "accept", port, cport, "in")):
        check_identity(rec, f"half-closed {d} end", type=typ, family=4, saddr="127.0.0.1",
                       sport=sp, daddr="127.0.0.1", dport=dp, pid=pid, comm=comm, netns=netns,
                       direction=d)
    # metrics in these states: payload bytes, the kernel's segment counts
    for rec, sock, sent, rcvd, who in ((mine_c[0], cli, 30000, 4000, "client"),
                                       (mine_s[0], srv, 4000, 30000, "server")):
        info = ntk.tcp_info(sock)
        t0 = time.time_ns()
        m = t.wait_for(lambda r: r.get("type") == "metrics" and r.get("id") == rec["id"] and
                       r["ts_ns"] > t0, 5, f"half-closed {who} metrics")
        got = {k: m[k] for k in ("bytes_sent", "bytes_received", "packets_sent",
                                 "packets_received", "state")}
        want = {"bytes_sent": sent, "bytes_received": rcvd, "packets_sent": info["segs_out"],
                "packets_received": info["segs_in"], "state": rec["state"]}
        check(got == want, f"half-closed {who}: metrics while idle (payload only, TCP_INFO segments)",
              f"got  {got}\nwant {want}\nTCP_INFO {info}")
    # the way back is still open
    srv.sendall(b"d" * 2500)
    check_eq(ntk.recv_exact(cli, 2500), 2500, "half-closed: client read after the start")
    srv.close()
    cli.close()
    for rid, who, s_, r_ in ((mine_c[0]["id"], "client", 30000, 6500),
                              (mine_s[0]["id"], "server", 6500, 30000)):
        rec = t.wait_for(lambda r: r.get("type") == "close" and r.get("id") == rid, 10,
                         f"half-closed {who} close record")
        check_eq((rec["bytes_sent"], rec["bytes_received"]), (s_, r_),
                 f"half-closed {who}: exact payload bytes, FINs left out")
    check_eq(t.stop(), 0, "exit status")


# ---- stopping ------------------------------------------------------------------------------------

def test_sigint():
    t = ntk.Tracer(interval=0.3)
    rc = t.stop(signal.SIGINT)
    check_eq(rc, 0, "SIGINT: exit status")
    stop = t.select(lambda r: r.get("type") == "status" and r.get("event") == "stop")
    check_eq(len(stop), 1, "SIGINT: stop status records")
    check(not t.select(lambda r: r.get("type") == "_garbled"), "SIGINT: every stdout line is JSON")


def test_duration():
    t0 = time.monotonic()
    t = ntk.Tracer("--duration", "1", interval=0.3)
    try:
        rc = t.proc.wait(8)
    except subprocess.TimeoutExpired:
        rc = None
    elapsed = time.monotonic() - t0
    check_eq(rc, 0, "--duration 1: exits on its own with status 0")
    check(1.0 <= elapsed < 6.0, f"--duration 1: ran for {elapsed:.2f} s (1 s plus start-up)")
    if rc is None:
        return
    t.stop()
    stop = t.select(lambda r: r.get("type") == "status" and r.get("event") == "stop")
    check_eq(len(stop), 1, "--duration 1: one stop status record")
    if stop:
        d = (stop[0]["ts_ns"] - t.start_record["ts_ns"]) / 1e9
        check(0.5 <= d <= 1.5, f"--duration 1: {d:.3f} s between the start and stop records")


def test_stdout_closed():
    """Nobody reads stdout any more (nettracer --json | head -1): the tracer stops on its
    own at its next write, and leaves nothing behind."""
    before = {p["id"] for p in bpftool_list("prog")}
    proc = subprocess.Popen([ntk.NETTRACER, "--json", "-t", "0.3"] + ntk.EXTRA_ARGS,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, cwd="/tmp")
    ntk.on_cleanup(lambda: proc.poll() is None and (proc.kill(), proc.wait()))
    # connections open at the start (other processes') come before the start record
    lines = []
    while not lines or (lines[-1] and b'"event":"start"' not in lines[-1]):
        lines.append(proc.stdout.readline())
    check(b'"event":"start"' in lines[-1], "stdout closed: the start record was read",
          lines[-3:])
    held = bpf_fds(proc.pid)
    prog_ids = {i for i in held["progs"] | set(held["links"].values()) if i not in before}
    proc.stdout.close()
    lst, cli, srv, port, cport = loopback_pair()     # something to write about
    try:
        rc = proc.wait(5)
    except subprocess.TimeoutExpired:
        rc = None
    check(rc is not None, f"stdout closed: exits on its own at the next record (status {rc})")
    if rc is None:
        return
    err = proc.stderr.read().decode(errors="replace")
    check(rc >= 0, f"stdout closed: exits, not killed by a signal ({rc})", err)
    deadline = time.monotonic() + 2.0
    while True:
        progs, links, maps = leftovers(prog_ids, set(held["links"]), held["maps"])
        if not (progs or links or maps) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    check(prog_ids and not (progs or links or maps),
          f"stdout closed: nothing left in the kernel ({len(prog_ids)} programs before)",
          (progs, links, maps))


def test_edge_options_accepted():
    """The limits themselves are valid: the tracer starts and says what it took."""
    cases = [(["-t", "0.1"], 100), (["-t", ".5"], 500), (["--interval=1.2345"], 1234),
             (["-t", "86400"], 86400000), (["--max-conns=1024"], None), (["--max-conns=16M"], None),
             (["--ringbuf-size=4096"], None), (["--ringbuf-size=4K"], None),
             (["--duration=0.001"], None), (["-v"], None)]
    if not any(a.startswith("--bpf") for a in ntk.EXTRA_ARGS):
        cases += [(["--bpf=core"], None), (["--bpf=auto"], None)]
    procs = []
    for args, interval_ms in cases:        # all at once: loading is most of the time
        p = subprocess.Popen([ntk.NETTRACER, "--json", "--duration", "0.3"] + args +
                             ntk.EXTRA_ARGS, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             stdin=subprocess.DEVNULL, text=True, cwd="/tmp")
        ntk.on_cleanup(lambda p=p: p.poll() is None and (p.kill(), p.wait()))
        procs.append(p)
    for (args, interval_ms), p in zip(cases, procs):
        what = "nettracer " + " ".join(args)
        try:
            out, err = p.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
        r = subprocess.CompletedProcess(p.args, p.returncode, out, err)
        recs = []
        for l in r.stdout.splitlines():
            try:
                recs.append(json.loads(l))
            except ValueError:
                recs.append({"type": "_garbled"})
        events = [x.get("event") for x in recs if x.get("type") == "status"]
        ok = r.returncode == 0 and events == ["start", "stop"]
        if interval_ms is not None:
            ok = ok and recs[0].get("interval_ms") == interval_ms
        check(ok, f"{what}: starts and stops, status 0" +
              (f", interval_ms {interval_ms}" if interval_ms else ""),
              f"rc={r.returncode} stdout={r.stdout[:400]!r} stderr={r.stderr[-400:]!r}")


# ---- privileges ----------------------------------------------------------------------------------

def test_privileges():
    """Without the capabilities: one line naming what is missing, nothing on stdout."""
    if subprocess.run(["which", "setpriv"], stdout=subprocess.DEVNULL).returncode:
        raise ntk.Skip("no setpriv")
    base = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    cases = [
        ("no capabilities", ["--inh-caps=-all", "--bounding-set=-all"],
         ["CAP_BPF", "CAP_PERFMON", "CAP_SYS_ADMIN"]),
        ("CAP_BPF only", ["--inh-caps=-all,+bpf", "--ambient-caps=+bpf"],
         ["CAP_PERFMON", "CAP_SYS_ADMIN"]),
        ("CAP_PERFMON only", ["--inh-caps=-all,+perfmon", "--ambient-caps=+perfmon"],
         ["CAP_BPF", "CAP_SYS_ADMIN"]),
    ]
    for label, caps, names in cases:
        for mode in (["--json"], [], ["-d"]):
            argv = base + caps + [ntk.NETTRACER] + mode + ["-L", "--duration", "2"]
            r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               stdin=subprocess.DEVNULL, text=True, timeout=20, cwd="/tmp")
            what = f"unprivileged, {label}, {' '.join(mode) or 'log mode'}"
            lines = r.stderr.splitlines()
            check_eq(r.returncode, 1, f"{what}: exit status (1: tracing cannot start)")
            check_eq(r.stdout, "", f"{what}: nothing on stdout")
            check_eq(len(lines), 1, f"{what}: one line on stderr")
            missing = [n for n in names if n not in r.stderr]
            check(lines and not missing, f"{what}: the message names {', '.join(names)}",
                  f"stderr {r.stderr!r}")


# ---- the command line ----------------------------------------------------------------------------

BAD_OPTIONS = [
    # argv, words of which the message must name one (the option or the value)
    (["--bogus"], ["--bogus"]),
    (["-x"], ["-x"]),
    (["-t", "-1"], ["'-1'"]),
    (["-t", "0"], ["'0'"]),
    (["-t", "abc"], ["'abc'"]),
    (["-t", ""], ["-t", "--interval"]),
    (["-t", "1e3"], ["'1e3'"]),
    (["-t", "0.05"], ["'0.05'"]),
    (["-t", "."], ["'.'"]),
    (["-t", "1.5.2"], ["'1.5.2'"]),
    (["-t", "99999999999999999999999999"], ["'99999999999999999999999999'"]),
    (["--interval=99999999"], ["'99999999'"]),
    (["-t"], ["-t", "--interval"]),
    (["--interval"], ["-t", "--interval"]),
    (["--bpf=foo"], ["'foo'"]),
    (["--bpf"], ["--bpf"]),
    (["--btf="], ["--btf"]),
    (["--max-conns=12x"], ["'12x'"]),
    (["--max-conns="], ["--max-conns"]),
    (["--max-conns=-5"], ["'-5'"]),
    (["--max-conns=100"], ["'100'"]),
    (["--ringbuf-size=3000"], ["'3000'"]),
    (["--ringbuf-size=5000"], ["'5000'"]),
    (["--ringbuf-size=2G"], ["'2G'"]),
    (["--ringbuf-size=8Q"], ["'8Q'"]),
    (["--duration=0"], ["'0'"]),
    (["--duration=soon"], ["'soon'"]),
    (["-d", "--json"], ["-d", "--table"]),
    (["-j", "-d"], ["-d", "--table"]),
    (["--json", "--table"], ["-d", "--table"]),
    (["stray"], ["'stray'"]),
    (["--json", "--", "stray2"], ["'stray2'"]),
    (["-l", ""], ["-l", "--log-dir"]),
    (["-l"], ["-l", "--log-dir"]),
    (["--no"], ["--no"]),                       # ambiguous: --no-log-file, --no-loopback
    # options without a value given one: the option must be named
    (["--help=x"], ["--help", "-h"]),
    (["--version=1"], ["--version", "-V"]),
    (["--table=1"], ["--table", "-d"]),
    (["--no-loopback=1"], ["--no-loopback"]),
    (["--probe=1"], ["--probe"]),
]


def printable(s):
    return all(c == "\t" or " " <= c < "\x7f" for c in s)


def test_bad_options():
    for argv, names in BAD_OPTIONS:
        rc, out, err = run_nt(argv)
        what = "nettracer " + " ".join(repr(a) if not a or " " in a else a for a in argv)
        lines = err.splitlines()
        ok = (rc == 2 and out == "" and len(lines) == 1 and err.endswith("\n") and
              printable(lines[0]) and any(n in lines[0] for n in names))
        check(ok, f"{what}: exit 2, one printable line naming {' or '.join(names)}",
              f"rc={rc} stdout={out!r} stderr={err!r}")

    for argv in (["--help"], ["-h"], ["--json", "--help"]):
        rc, out, err = run_nt(argv)
        check(rc == 0 and out.startswith("Usage: nettracer") and err == "",
              f"nettracer {' '.join(argv)}: usage on stdout, exit 0",
              f"rc={rc} stdout={out[:200]!r} stderr={err!r}")
    rc, out, err = run_nt(["--help"])
    long_opts = ["--table", "--json", "--interval", "--log-dir", "--no-log-file", "--verbose",
                 "--version", "--help", "--bpf", "--btf", "--no-loopback", "--max-conns",
                 "--ringbuf-size", "--duration", "--probe"]
    missing = [o for o in long_opts if o not in out]
    check(not missing, "--help lists every long option", missing)
    for argv in (["--version"], ["-V"]):
        rc, out, err = run_nt(argv)
        check(rc == 0 and err == "" and len(out.splitlines()) == 1 and
              out.startswith("nettracer ") and len(out.split()) == 2,
              f"nettracer {argv[0]}: 'nettracer VERSION' on stdout, exit 0",
              f"rc={rc} stdout={out!r} stderr={err!r}")


# ---- --no-loopback -------------------------------------------------------------------------------

def veth_server(ch, addr, up, down):
    lst = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lst.bind((addr, 0))
    lst.listen(4)
    ch.send((lst.getsockname()[1], ntk.netns_inode()))
    c, _ = lst.accept()
    ntk.recv_exact(c, up)
    c.sendall(b"d" * down)
    ch.recv(30)            # "close"
    c.close()
    lst.close()
    ch.send("closed")
    ch.recv(30)            # "exit"


def veth_client(ch, addr, port, up, down):
    c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    c.connect((addr, port))
    c.sendall(b"u" * up)
    got = ntk.recv_exact(c, down)
    ch.send((c.getsockname()[1], ntk.netns_inode(), got))
    ch.recv(30)            # "close"
    c.close()
    ch.send("closed")
    ch.recv(30)            # "exit"


def test_no_loopback():
    ntk.set_comm("ntk-nolo")
    # open before the start: the start-up listing must leave it out too
    pre = loopback_pair()
    nsA, nsB, addrs = ntk.make_netns_pair(v6=False)
    t = ntk.Tracer("--no-loopback", interval=0.3)

    # loopback: 127.0.0.1, 127.0.0.2 -> 127.0.0.1, and ::1
    lo = [pre[3:]]
    lst, cli, srv, port, cport = loopback_pair()
    exchange(cli, srv, 3000, 3000, "127.0.0.1")
    lo.append((port, cport))
    l2 = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ntk.on_cleanup(l2.close)
    l2.bind(("127.0.0.1", 0))
    l2.listen(4)
    c2 = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ntk.on_cleanup(c2.close)
    c2.bind(("127.0.0.2", 0))
    c2.connect(("127.0.0.1", l2.getsockname()[1]))
    s2, _ = l2.accept()
    ntk.on_cleanup(s2.close)
    lo.append((l2.getsockname()[1], c2.getsockname()[1]))
    if os.path.exists("/proc/net/if_inet6"):
        l6, c6, s6, p6, cp6 = loopback_pair(socket.AF_INET6, "::1", "::1")
        exchange(c6, s6, 2000, 2000, "::1")
        lo.append((p6, cp6))

    # between two namespaces over veth: reported
    up, down = 4321, 1234
    server = ntk.Child(veth_server, addrs["b4"], up, down, netns=nsB, comm="ntk-vsrv")
    vport, ns_b = server.recv()
    client = ntk.Child(veth_client, addrs["b4"], vport, up, down, netns=nsA, comm="ntk-vcli")
    vcport, ns_a, got = client.recv()
    check_eq(got, down, "veth: client read the answer")
    conn = t.wait_for(ntk.conn_pred(sport=vcport, dport=vport, type="connect", netns=ns_a), 5,
                      "veth connect record")
    acc = t.wait_for(ntk.conn_pred(sport=vport, dport=vcport, type="accept", netns=ns_b), 5,
                     "veth accept record")
    check_identity(conn, "veth client", type="connect", family=4, saddr=addrs["a4"], sport=vcport,
                   daddr=addrs["b4"], dport=vport, pid=client.pid, comm="ntk-vcli", netns=ns_a,
                   direction="out")
    check_identity(acc, "veth server", type="accept", family=4, saddr=addrs["b4"], sport=vport,
                   daddr=addrs["a4"], dport=vcport, pid=server.pid, comm="ntk-vsrv", netns=ns_b,
                   direction="in")
    t.wait_for(lambda r: r.get("type") == "metrics" and r.get("id") == conn["id"], 5,
               "veth metrics record")
    for ch in (client, server):
        ch.send("close")
        check_eq(ch.recv(), "closed", "veth end closed")
    for rid, who, s_, r_ in ((conn["id"], "client", up, down), (acc["id"], "server", down, up)):
        rec = t.wait_for(lambda r: r.get("type") == "close" and r.get("id") == rid, 10,
                         f"veth {who} close record")
        check_eq((rec["bytes_sent"], rec["bytes_received"]), (s_, r_),
                 f"veth {who}: exact payload bytes after close")
    for ch in (client, server):
        ch.send("exit")
        ch.wait()

    for s in (cli, srv, c2, s2, pre[1], pre[2]):
        s.close()
    if len(lo) > 3:
        c6.close()
        s6.close()
    time.sleep(0.7)        # two intervals: metrics and close records would be out by now
    rc = t.stop()
    check_eq(rc, 0, "exit status")
    for port, cport in lo:
        recs = t.select(lambda r: {r.get("sport"), r.get("dport")} == {port, cport} and
                        r.get("type") in ("connect", "accept", "metrics", "close"))
        check(not recs, f"--no-loopback: no record of the loopback connection {cport}->{port}",
              recs[:4])


if __name__ == "__main__":
    raise SystemExit(ntk.main([test_no_leftovers_after_sigterm, test_no_leftovers_after_sigkill,
                               test_preexisting_connection, test_preexisting_half_closed,
                               test_sigint, test_duration,
                               test_stdout_closed, test_privileges, test_bad_options,
                               test_edge_options_accepted, test_no_loopback]))

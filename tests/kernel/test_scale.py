#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
"""Connections that live less than a millisecond, and 1,000 connections open at once:
every one reported exactly once per side, with exact bytes, and nothing lost.

Each test uses its own loopback addresses (127.<a>.<b>.1 for the listener, .2 for the
clients), so other traffic on the machine never matches its filters."""
import os
import resource
import socket
import time

import ntk
from ntk import check, check_eq


def own_addrs(salt):
    k = (os.getpid() * 7 + salt) % 60000
    base = f"127.{100 + k // 250 % 150}.{k % 250 + 1}"
    return base + ".1", base + ".2"


def wait_count(tracer, pred, n, timeout, what):
    """Wait until at least n records satisfy pred; returns them (maybe fewer on timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        got = tracer.select(pred)
        if len(got) >= n or time.monotonic() > deadline:
            if len(got) < n:
                ntk.TAP.diag(f"{what}: {len(got)} of {n} within {timeout}s")
            return got
        time.sleep(0.1)


def side_key(r, laddr, caddr):
    """('c', client port) for the client's socket, ('s', client port) for the server's;
    None for records of other connections."""
    if r.get("family") != 4:
        return None
    if r.get("saddr") == caddr and r.get("daddr") == laddr:
        return ("c", r["sport"])
    if r.get("saddr") == laddr and r.get("daddr") == caddr:
        return ("s", r["dport"])
    return None


def loss_problems(tracer):
    """Loss records with a nonzero counter (delta or total)."""
    bad = []
    for r in tracer.select(lambda r: r.get("type") == "loss"):
        nz = {k: v for k, v in r.items() if k not in ("type", "ts_ns") and v}
        if nz:
            bad.append(nz)
    return bad


# ---- short-lived connections -------------------------------------------------------------------

def one_short(lst, laddr, caddr, lport, n, mode):
    """One connection of a few hundred microseconds. mode 0: the server reads, the client
    closes, then the server; 1: the server closes first; 2: the client sends and closes
    before the server has even accepted. Returns (client port, lifetime ns)."""
    t0 = time.perf_counter_ns()
    cli = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ntk.bind_own_port(cli, caddr)
    cli.connect((laddr, lport))
    if mode == 2:
        cli.sendall(b"s" * n)
        cport = cli.getsockname()[1]
        cli.close()
        srv, _ = lst.accept()
        got = ntk.recv_exact(srv, n)
        srv.close()
    else:
        srv, _ = lst.accept()
        cli.sendall(b"s" * n)
        got = ntk.recv_exact(srv, n)
        cport = cli.getsockname()[1]
        if mode == 0:
            cli.close()
            srv.close()
        else:
            srv.close()
            cli.close()
    t1 = time.perf_counter_ns()
    if got != n:
        raise ntk.Failed(f"server read {got} of {n} bytes")
    return cport, t1 - t0


def test_short_lived():
    tracer = ntk.Tracer(interval=0.3)
    ntk.set_comm("ntk-short")
    me, comm = os.getpid(), ntk.comm_of()
    laddr, caddr = own_addrs(1)
    lst = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lst.bind((laddr, 0))
    lst.listen(16)
    ntk.on_cleanup(lst.close)
    lport = lst.getsockname()[1]

    want = 20
    conns = {}      # client port -> (bytes, lifetime ns, mode)
    fast = 0
    tries = 0
    while fast < want and tries < 10 * want:
        n = 1000 + 97 * tries
        mode = tries % 3
        cport, life = one_short(lst, laddr, caddr, lport, n, mode)
        if cport in conns:
            raise ntk.Failed(f"client port {cport} used twice: records would be ambiguous")
        conns[cport] = (n, life, mode)
        fast += life < 1_000_000
        tries += 1
    lives = sorted(v[1] for v in conns.values())
    ntk.TAP.diag("short-lived lifetimes (us, connect() to both closed): " +
                 " ".join(f"{x / 1000:.0f}" for x in lives))
    if fast < want:
        # an emulated CPU (the VM lane under TCG) makes few: every connection made is
        # still checked below, the precondition is reported as not met here
        ntk.TAP.line(True, f"short-lived: {want} connections living less than 1 ms",
                     f" # SKIP only {fast} of {len(conns)} did on this machine")
    else:
        check(fast >= want, f"short-lived: {fast} connections lived less than 1 ms "
              f"({len(conns)} made; median {lives[len(lives) // 2] / 1000:.0f} us)")

    total = len(conns)
    ours = lambda r: side_key(r, laddr, caddr) is not None and r.get("type") != "metrics"
    wait_count(tracer, lambda r: ours(r) and r["type"] == "close", 2 * total, 10,
               "short-lived close records")
    ntk.wait_idle(0.7)
    recs = tracer.select(ours)
    by = {}
    for r in recs:
        by.setdefault((side_key(r, laddr, caddr), r["type"]), []).append(r)
    for cport, (n, life, mode) in sorted(conns.items(), key=lambda kv: kv[1][1]):
        label = f"short-lived :{cport} ({life / 1000:.0f} us, mode {mode}, {n} bytes)"
        c = by.get((("c", cport), "connect"), [])
        a = by.get((("s", cport), "accept"), [])
        cc = by.get((("c", cport), "close"), [])
        sc = by.get((("s", cport), "close"), [])
        counts = (len(c), len(a), len(cc), len(sc))
        if not check_eq(counts, (1, 1, 1, 1), f"{label}: connect, accept, close, close records"):
            ntk.TAP.diag("\n".join(str(r) for r in c + a + cc + sc))
            continue
        c, a, cc, sc = c[0], a[0], cc[0], sc[0]
        check(c["id"] == cc["id"] and a["id"] == sc["id"] and c["id"] != a["id"],
              f"{label}: ids pair the open and close records of each side", (c, a, cc, sc))
        check(all(r["pid"] == me and r["comm"] == comm and r["sport"] and r["dport"]
                  for r in (c, a, cc, sc)),
              f"{label}: every record names this process", (c, a, cc, sc))
        check_eq((cc["bytes_sent"], cc["bytes_received"], sc["bytes_sent"], sc["bytes_received"]),
                 (n, 0, 0, n), f"{label}: exact bytes on the client and server close records")
        pk = (cc["packets_sent"], cc["packets_received"], sc["packets_sent"],
              sc["packets_received"])
        check(all(pk), f"{label}: nonzero packet counts on both close records {pk}", (cc, sc))
    check_eq(loss_problems(tracer), [], "short-lived: no loss records")


# ---- 1,000 concurrent connections --------------------------------------------------------------

N_CONC = 1000


def test_1000_concurrent():
    need = 2 * N_CONC + 200
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        if hard != resource.RLIM_INFINITY and hard < need:
            resource.setrlimit(resource.RLIMIT_NOFILE, (need, need))  # root may raise hard
        else:
            resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
        ntk.on_cleanup(lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard)))

    tracer = ntk.Tracer(interval=0.5)
    ntk.set_comm("ntk-1000")
    me = os.getpid()
    laddr, caddr = own_addrs(2)
    lst = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lst.bind((laddr, 0))
    lst.listen(N_CONC + 100)
    lport = lst.getsockname()[1]
    socks = []

    def close_all():
        for s in socks:
            s.close()
        lst.close()
    ntk.on_cleanup(close_all)

    t_open = time.monotonic()
    clients = []
    for _ in range(N_CONC):
        c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        socks.append(c)
        c.bind((caddr, 0))
        c.connect((laddr, lport))
        clients.append(c)
    servers = {}
    for _ in range(N_CONC):
        s, peer = lst.accept()
        socks.append(s)
        servers[peer[1]] = s
    cports = [c.getsockname()[1] for c in clients]
    check(sorted(servers) == sorted(cports) and len(set(cports)) == N_CONC,
          f"{N_CONC} connections open at once, all accepted",
          f"client ports not accepted: {sorted(set(cports) - set(servers))[:10]}")
    ntk.TAP.diag(f"opened {N_CONC} connections in {time.monotonic() - t_open:.2f}s")

    ours = lambda r: side_key(r, laddr, caddr) is not None
    opened = wait_count(tracer, lambda r: ours(r) and r["type"] in ("connect", "accept"),
                        2 * N_CONC, 20, "connect/accept records")
    check_eq(len(opened), 2 * N_CONC, "every connection reported while all are open")

    sent = {p: 100 + i % 37 for i, p in enumerate(cports)}
    answered = {p: 50 + i % 13 for i, p in enumerate(cports)}
    for c, p in zip(clients, cports):
        c.sendall(b"c" * sent[p])
    short = [p for p in cports if ntk.recv_exact(servers[p], sent[p]) != sent[p]]
    for p in cports:
        servers[p].sendall(b"s" * answered[p])
    short += [p for c, p in zip(clients, cports) if ntk.recv_exact(c, answered[p]) != answered[p]]
    check_eq(short, [], "data exchanged on every connection")

    # one snapshot of all 2,000 sockets while idle == TCP_INFO on each
    ids = {}
    for r in opened:
        ids[r["id"]] = side_key(r, laddr, caddr)
    by_key = {("c", p): c for c, p in zip(clients, cports)}
    by_key.update({("s", p): s for p, s in servers.items()})
    ntk.wait_idle()
    for attempt in range(3):
        before = {k: ntk.tcp_info(s) for k, s in by_key.items()}
        t0 = time.time_ns()
        first = tracer.wait_for(lambda r: r.get("type") == "metrics" and r["ts_ns"] > t0
                                and r.get("id") in ids, 10, "a metrics snapshot")
        tick = first["ts_ns"]
        tracer.wait_for(lambda r: r.get("type") == "metrics" and r["ts_ns"] > tick, 10,
                        "the snapshot after")
        after = {k: ntk.tcp_info(s) for k, s in by_key.items()}
        if before == after or attempt == 2:
            break
        ntk.TAP.diag("TCP_INFO moved during the snapshot, again")
        ntk.wait_idle(0.5)
    snap = tracer.select(lambda r: r.get("type") == "metrics" and r["ts_ns"] == tick
                         and r.get("id") in ids)
    seen = {}
    for r in snap:
        seen.setdefault(r["id"], []).append(r)
    check_eq((len(seen), max(len(v) for v in seen.values()) if seen else 0), (2 * N_CONC, 1),
             "one snapshot has one metrics record for every open connection")
    bad = []
    for cid, recs in seen.items():
        key = ids[cid]
        want = ntk.expected_metrics(after[key], outgoing=key[0] == "c")
        got = {k: recs[0][k] for k in ntk.METRIC_KEYS}
        if got != want:
            bad.append((key, got, want))
    check(not bad, f"every metrics record of the snapshot equals TCP_INFO ({len(bad)} differ)",
          "\n".join(f"{k}: got {g} want {w}" for k, g, w in bad[:5]))

    t_close = time.monotonic()
    for c in clients:
        c.close()
    for s in servers.values():
        s.close()
    lst.close()
    socks.clear()
    wait_count(tracer, lambda r: ours(r) and r["type"] == "close", 2 * N_CONC, 20,
               "close records")
    ntk.wait_idle(1.2)  # two intervals more: duplicates or late records would be in
    rc = tracer.stop()
    check_eq(rc, 0, "tracer stopped cleanly")
    ntk.TAP.diag(f"closed {N_CONC} connections, records in after {time.monotonic() - t_close:.2f}s")

    recs = tracer.select(lambda r: ours(r) and r.get("type") != "metrics")
    by = {}
    for r in recs:
        by.setdefault((side_key(r, laddr, caddr), r["type"]), []).append(r)
    want_kinds = {"c": ("connect", "close"), "s": ("accept", "close")}
    wrong_count, wrong_bytes, wrong_who, stray = [], [], [], []
    for p in cports:
        for side, kinds in want_kinds.items():
            for kind in kinds:
                got = by.pop(((side, p), kind), [])
                if len(got) != 1:
                    wrong_count.append(((side, p), kind, len(got), got[:2]))
                    continue
                r = got[0]
                if r["pid"] != me or r["comm"] != "ntk-1000" or r["sport"] == 0:
                    wrong_who.append(r)
                if kind == "close":
                    s_, r_ = (sent[p], answered[p]) if side == "c" else (answered[p], sent[p])
                    if (r["bytes_sent"], r["bytes_received"]) != (s_, r_) or \
                            not (r["packets_sent"] and r["packets_received"]):
                        wrong_bytes.append((r, (s_, r_)))
    stray = [r for v in by.values() for r in v]
    check(not wrong_count, f"each connection: exactly one connect, one accept and one close per "
          f"side ({len(wrong_count)} wrong)", "\n".join(map(str, wrong_count[:5])))
    check(not wrong_who, f"every record names this process ({len(wrong_who)} wrong)",
          "\n".join(map(str, wrong_who[:5])))
    check(not wrong_bytes, f"exact bytes and packet counts on every close record "
          f"({len(wrong_bytes)} wrong)", "\n".join(map(str, wrong_bytes[:5])))
    check(not stray, f"no records for connections this test did not make ({len(stray)})",
          "\n".join(map(str, stray[:5])))
    all_ids = [r["id"] for r in recs if r["type"] != "close"]
    check_eq(len(set(all_ids)), len(all_ids), "connection ids are unique")
    check_eq(loss_problems(tracer), [], "no loss records with nonzero counts")
    stop = tracer.select(lambda r: r.get("type") == "status" and r.get("event") == "stop")
    check(stop and all(not r.get("type") == "_garbled" for r in tracer.records),
          "stop status record present, every line JSON", stop)


if __name__ == "__main__":
    raise SystemExit(ntk.main([test_short_lived, test_1000_concurrent]))

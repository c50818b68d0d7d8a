#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
"""Connections between two network namespaces (veth), a pre-fork server whose accept()
runs in a forked child, and retransmissions forced by drops at the receiver.

The sockets live in Peer processes (peer.py); every TCP_INFO is read in the process
that owns the socket, on the socket the tracer reports."""
import os
import shutil
import socket

import ntk
from ntk import check, check_eq
from conncheck import check_identity
from peer import Peer, compare_idle


def start():
    return ntk.Tracer(interval=0.3)


def fam_num(family):
    return 4 if family == socket.AF_INET else 6


def records_of(tracer, conn_id):
    return tracer.select(lambda r: r.get("id") == conn_id)


def wait_close(tracer, conn_id, label):
    return tracer.wait_for(lambda r: r.get("type") == "close" and r.get("id") == conn_id, 10,
                           f"{label} close record")


def open_pair(tracer, label, srv, cli, family, srv_addr, cli_addr):
    """srv listens and accepts, cli connects; returns (port, cport, connect rec, accept rec)
    after checking both records' identity against what the peers say about themselves."""
    port = srv.call("listen", "L", family, srv_addr)
    srv.start("accept", "L", "S")
    local = cli.call("connect", "C", family, srv_addr, port)
    acc_res = srv.result()
    cport = local[1]
    check_eq(tuple(local[:1]), (cli_addr,), f"{label}: client socket bound to its veth address")
    check_eq(tuple(acc_res["peer"]), (cli_addr, cport), f"{label}: server sees the client")

    conn = tracer.wait_for(ntk.conn_pred(sport=cport, dport=port, type="connect",
                                         netns=cli.who["netns"]), 5, f"{label} connect record")
    acc = tracer.wait_for(ntk.conn_pred(sport=port, dport=cport, type="accept",
                                        netns=srv.who["netns"]), 5, f"{label} accept record")
    fam = fam_num(family)
    check_identity(conn, f"{label} client", type="connect", family=fam, saddr=cli_addr,
                   sport=cport, daddr=srv_addr, dport=port, pid=cli.pid, comm=cli.who["comm"],
                   netns=cli.who["netns"], direction="out")
    check_identity(acc, f"{label} server", type="accept", family=fam, saddr=srv_addr,
                   sport=port, daddr=cli_addr, dport=cport, pid=srv.pid, comm=srv.who["comm"],
                   netns=srv.who["netns"], direction="in")
    return port, cport, conn, acc


def transfer(srv, cli, sent, answered, label):
    srv.start("recv", "S", sent)
    check_eq(cli.call("send", "C", sent, timeout=60), sent, f"{label}: client sent the request")
    check_eq(srv.result(60), sent, f"{label}: server read the request")
    if answered:
        cli.start("recv", "C", answered)
        check_eq(srv.call("send", "S", answered, timeout=60), answered,
                 f"{label}: server sent the answer")
        check_eq(cli.result(60), answered, f"{label}: client read the answer")


def close_and_check(tracer, label, srv, cli, conn, acc, sent, answered):
    """Client closes, then the server; both close records: identity and exact bytes; then
    the connection has exactly one open and one close record per side."""
    cli.call("close", "C")
    srv.call("close", "S")
    srv.call("close", "L")
    for rec0, who, s_, r_ in ((conn, "client", sent, answered), (acc, "server", answered, sent)):
        rec = wait_close(tracer, rec0["id"], f"{label} {who}")
        want = {k: rec0[k] for k in ("family", "saddr", "sport", "daddr", "dport", "pid", "comm",
                                     "netns", "direction")}
        got = {k: rec.get(k) for k in want}
        check(got == want, f"{label} {who}: close record identity equals the open record",
              f"got  {got}\nwant {want}")
        check_eq((rec["bytes_sent"], rec["bytes_received"]), (s_, r_),
                 f"{label} {who}: exact payload bytes after close")
        check(rec["packets_sent"] > 0 and rec["packets_received"] > 0,
              f"{label} {who}: close record has packet counts", rec)
    ntk.wait_idle(0.7)  # two intervals: a duplicate would be out by now
    for rec0, who in ((conn, "client"), (acc, "server")):
        types = sorted(r["type"] for r in records_of(tracer, rec0["id"]) if r["type"] != "metrics")
        check_eq(types, sorted([rec0["type"], "close"]),
                 f"{label} {who}: one open and one close record")


def veth_test(family, tag):
    if family == socket.AF_INET6 and not os.path.exists("/proc/net/if_inet6"):
        raise ntk.Skip("no IPv6 on this host")
    tracer = start()
    ns_a, ns_b, addrs = ntk.make_netns_pair()
    sa, ca = (addrs["a4"], addrs["b4"]) if family == socket.AF_INET else (addrs["a6"], addrs["b6"])
    srv = Peer(netns=ns_a, comm=f"ntk-nsA-srv{tag}")
    cli = Peer(netns=ns_b, comm=f"ntk-nsB-cli{tag}")
    label = f"veth IPv{tag}"
    host = ntk.netns_inode()
    check(len({host, srv.who["netns"], cli.who["netns"]}) == 3,
          f"{label}: server, client and this process are in three namespaces",
          (host, srv.who, cli.who))
    check_eq((srv.who["comm"], cli.who["comm"]), (f"ntk-nsA-srv{tag}", f"ntk-nsB-cli{tag}"),
             f"{label}: peers' comm")

    port, cport, conn, acc = open_pair(tracer, label, srv, cli, family, sa, ca)
    sent, answered = 234567, 76543
    transfer(srv, cli, sent, answered, label)
    ntk.wait_idle()
    compare_idle(tracer, f"{label} client", conn["id"], cli, "C", outgoing=True)
    compare_idle(tracer, f"{label} server", acc["id"], srv, "S", outgoing=False)
    close_and_check(tracer, label, srv, cli, conn, acc, sent, answered)
    check_eq((srv.exit(), cli.exit()), (0, 0), f"{label}: peers exited cleanly")


def test_veth_ipv4():
    veth_test(socket.AF_INET, "4")


def test_veth_ipv6():
    veth_test(socket.AF_INET6, "6")


def test_forked_acceptor():
    """Pre-fork server: this process creates the listener (and connects to it), a forked
    child accepts. The accept record names the child, not the listener's owner; once
    with accept4(2) (socket.accept) and once with the plain accept(2) syscall."""
    tracer = start()
    ntk.set_comm("ntk-prefork")
    me, my_comm, netns = os.getpid(), ntk.comm_of(), ntk.netns_inode()
    for how in ("accept4", "accept"):
        label = f"pre-fork {how}"
        lst = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        lst.bind(("127.0.0.1", 0))
        lst.listen(16)
        port = lst.getsockname()[1]
        acceptor = Peer(comm=f"ntk-acc-{how}")  # inherits lst across fork()
        check(acceptor.pid != me and acceptor.who["comm"] == f"ntk-acc-{how}",
              f"{label}: acceptor is another process with its own comm", acceptor.who)
        acceptor.call("adopt", "L", lst.fileno())
        acceptor.start("accept", "L", "S", how)
        cli = socket.create_connection(("127.0.0.1", port))
        cport = cli.getsockname()[1]
        res = acceptor.result()
        check_eq(tuple(res["peer"]), ("127.0.0.1", cport), f"{label}: child accepted our client")

        conn = tracer.wait_for(ntk.conn_pred(sport=cport, dport=port, type="connect"), 5,
                               f"{label} connect record")
        acc = tracer.wait_for(ntk.conn_pred(sport=port, dport=cport, type="accept"), 5,
                              f"{label} accept record")
        check_identity(conn, f"{label} client", type="connect", family=4, saddr="127.0.0.1",
                       sport=cport, daddr="127.0.0.1", dport=port, pid=me, comm=my_comm,
                       netns=netns, direction="out")
        check_identity(acc, f"{label} acceptor", type="accept", family=4, saddr="127.0.0.1",
                       sport=port, daddr="127.0.0.1", dport=cport, pid=acceptor.pid,
                       comm=f"ntk-acc-{how}", netns=netns, direction="in")

        sent, answered = 4321, 1234
        acceptor.start("recv", "S", sent)
        cli.sendall(b"r" * sent)
        check_eq(acceptor.result(), sent, f"{label}: acceptor read the request")
        acceptor.call("send", "S", answered)
        check_eq(ntk.recv_exact(cli, answered), answered, f"{label}: client read the answer")
        ntk.wait_idle(0.5)
        compare_idle(tracer, f"{label} acceptor", acc["id"], acceptor, "S", outgoing=False)
        cli.close()
        acceptor.call("close", "S")
        rec = wait_close(tracer, acc["id"], f"{label} acceptor")
        check_eq((rec["pid"], rec["comm"], rec["bytes_sent"], rec["bytes_received"]),
                 (acceptor.pid, f"ntk-acc-{how}", answered, sent),
                 f"{label}: acceptor close record: pid, comm, exact bytes")
        rec = wait_close(tracer, conn["id"], f"{label} client")
        check_eq((rec["pid"], rec["comm"], rec["bytes_sent"], rec["bytes_received"]),
                 (me, my_comm, sent, answered), f"{label}: client close record: pid, comm, exact bytes")
        check_eq(acceptor.exit(), 0, f"{label}: acceptor exited cleanly")
        lst.close()


def iptables(ns, *args, check=True):
    return ntk.sh("ip", "netns", "exec", ns, "iptables", *args, check=check)


def test_retransmits():
    """Drops at the receiver (INPUT in the server's namespace) make the client retransmit;
    once idle, every metric equals TCP_INFO, retransmits > 0 included."""
    if not shutil.which("iptables"):
        raise ntk.Skip("iptables is not installed")
    tracer = start()
    ns_a, ns_b, addrs = ntk.make_netns_pair(v6=False)
    srv = Peer(netns=ns_a, comm="ntk-rtx-srv")
    cli = Peer(netns=ns_b, comm="ntk-rtx-cli")
    label = "retransmits"
    port = srv.call("listen", "L", socket.AF_INET, addrs["a4"])
    rule = ("INPUT", "-p", "tcp", "--dport", str(port), "-m", "statistic", "--mode", "nth",
            "--every", "7", "--packet", "3", "-j", "DROP")
    r = iptables(ns_a, "-A", *rule, check=False)
    if r.returncode:
        raise ntk.Skip(f"iptables cannot add the statistic DROP rule: {r.stderr.strip()}")
    removed = [False]

    def unrule():
        if not removed[0]:
            iptables(ns_a, "-D", *rule, check=False)
            removed[0] = True
    ntk.on_cleanup(unrule)

    srv.start("accept", "L", "S")
    local = cli.call("connect", "C", socket.AF_INET, addrs["a4"], port)
    srv.result()
    cport = local[1]
    conn = tracer.wait_for(ntk.conn_pred(sport=cport, dport=port, type="connect",
                                         netns=cli.who["netns"]), 5, f"{label} connect record")
    acc = tracer.wait_for(ntk.conn_pred(sport=port, dport=cport, type="accept",
                                        netns=srv.who["netns"]), 5, f"{label} accept record")
    sent = 400 * 1024
    transfer(srv, cli, sent, 0, label)
    r = iptables(ns_a, "-L", "INPUT", "-n", "-v", "-x", check=False)
    ntk.TAP.diag(f"{label}: drop rule before removal:\n{r.stdout.strip()}")
    unrule()
    ntk.wait_idle(1.0)
    rec, info = compare_idle(tracer, f"{label} client", conn["id"], cli, "C", outgoing=True)
    check(info["total_retrans"] > 0, f"{label}: the drops caused retransmissions "
          f"(tcpi_total_retrans={info['total_retrans']})")
    check(rec["retransmits"] > 0 and rec["retransmits"] == info["total_retrans"],
          f"{label}: client metrics retransmits {rec['retransmits']} == tcpi_total_retrans "
          f"{info['total_retrans']} > 0")
    compare_idle(tracer, f"{label} server", acc["id"], srv, "S", outgoing=False)
    cli.call("close", "C")
    srv.call("close", "S")
    srv.call("close", "L")
    for rec0, who, s_, r_ in ((conn, "client", sent, 0), (acc, "server", 0, sent)):
        rec = wait_close(tracer, rec0["id"], f"{label} {who}")
        check_eq((rec["bytes_sent"], rec["bytes_received"]), (s_, r_),
                 f"{label} {who}: exact payload bytes after close")
        if who == "client":
            check(rec["retransmits"] >= info["total_retrans"],
                  f"{label} client: close record keeps the retransmits "
                  f"({rec['retransmits']} >= {info['total_retrans']})")


if __name__ == "__main__":
    raise SystemExit(ntk.main([test_veth_ipv4, test_veth_ipv6, test_forked_acceptor,
                               test_retransmits]))

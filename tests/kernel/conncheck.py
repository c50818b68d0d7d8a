# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
"""One connection, checked end to end: identity on the connect/accept records, every
metric equal to TCP_INFO while idle, exact payload bytes on the close records."""
import socket
import time

import ntk
from ntk import check, check_eq


def metrics_after(tracer, conn_id, t0_ns, timeout=10.0):
    """The first metrics record of conn_id made after t0 (Unix ns)."""
    return tracer.wait_for(lambda r: r.get("type") == "metrics" and r.get("id") == conn_id
                           and r["ts_ns"] > t0_ns, timeout, f"metrics record of id {conn_id}")


def compare_idle(tracer, label, conn_id, sock, outgoing, attempts=3):
    """Metrics of an idle connection == TCP_INFO on the same socket, field by field.
    The kernel's numbers are read before and after the record; if they moved (a late
    ACK), the comparison is redone on a later record."""
    for attempt in range(attempts):
        before = ntk.tcp_info(sock)
        t0 = time.time_ns()
        rec = metrics_after(tracer, conn_id, t0)
        after = ntk.tcp_info(sock)
        if before == after or attempt == attempts - 1:
            break
        ntk.TAP.diag(f"{label}: TCP_INFO moved during the snapshot, again")
        ntk.wait_idle(0.5)
    want = ntk.expected_metrics(after, outgoing)
    got = {k: rec[k] for k in ntk.METRIC_KEYS}
    check(got == want, f"{label}: metrics equal TCP_INFO while idle",
          f"got  {got}\nwant {want}\nTCP_INFO {after}")
    return rec


def check_identity(rec, label, *, type, family, saddr, sport, daddr, dport, pid, comm, netns,
                   direction):
    want = dict(type=type, family=family, saddr=saddr, sport=sport, daddr=daddr, dport=dport,
                pid=pid, comm=comm, netns=netns, direction=direction)
    got = {k: rec.get(k) for k in want}
    return check(got == want, f"{label}: {type} record identity", f"got  {got}\nwant {want}")


def run_pair(tracer, label, *, family, listen_addr, connect_addr, client_saddr, server_saddr,
             client_family=None, sent=123457, answered=65432):
    """Client (this process) connects to a server socket accepted in this process;
    both ends are checked. Returns nothing; every check is a TAP line."""
    pid, netns, comm = ntk.os.getpid(), ntk.netns_inode(), ntk.comm_of()
    lst = socket.socket(family, socket.SOCK_STREAM)
    if family == socket.AF_INET6:
        lst.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    lst.bind((listen_addr, 0))
    lst.listen(16)
    port = lst.getsockname()[1]
    cli = socket.socket(client_family or family, socket.SOCK_STREAM)
    cli.connect((connect_addr, port))
    srv, _ = lst.accept()
    cport = cli.getsockname()[1]
    fam = 4 if ":" not in client_saddr else 6

    conn = tracer.wait_for(ntk.conn_pred(sport=cport, dport=port, type="connect"), 5,
                           f"{label} connect record")
    acc = tracer.wait_for(ntk.conn_pred(sport=port, dport=cport, type="accept"), 5,
                          f"{label} accept record")
    check_identity(conn, label, type="connect", family=fam, saddr=client_saddr, sport=cport,
                   daddr=server_saddr, dport=port, pid=pid, comm=comm, netns=netns,
                   direction="out")
    check_identity(acc, label, type="accept", family=fam, saddr=server_saddr, sport=port,
                   daddr=client_saddr, dport=cport, pid=pid, comm=comm, netns=netns,
                   direction="in")

    cli.sendall(b"q" * sent)
    check_eq(ntk.recv_exact(srv, sent), sent, f"{label}: server read the request")
    srv.sendall(b"a" * answered)
    check_eq(ntk.recv_exact(cli, answered), answered, f"{label}: client read the answer")
    ntk.wait_idle()
    compare_idle(tracer, f"{label} client", conn["id"], cli, outgoing=True)
    compare_idle(tracer, f"{label} server", acc["id"], srv, outgoing=False)

    cli.close()
    srv.close()
    lst.close()
    for rid, who, s_, r_ in ((conn["id"], "client", sent, answered),
                              (acc["id"], "server", answered, sent)):
        rec = tracer.wait_for(lambda r: r.get("type") == "close" and r.get("id") == rid, 10,
                              f"{label} {who} close record")
        check_eq((rec["bytes_sent"], rec["bytes_received"]), (s_, r_),
                 f"{label} {who}: exact payload bytes after close")
        check(rec["packets_sent"] > 0 and rec["packets_received"] > 0,
              f"{label} {who}: close record has packet counts")
    return conn, acc

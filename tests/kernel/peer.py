# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
"""A socket-holding process driven by the test: Peer forks an ntk.Child (optionally in a
network namespace, with its own comm) that creates, connects, accepts, reads, writes
and closes TCP sockets when told, and answers with results, including TCP_INFO read on
the very socket the tracer reports. Sockets are named by the test ("L", "C", ...).

Not a test file: test_netns.py (and others) import it."""
import ctypes
import os
import socket
import time

import ntk
from ntk import check

# the plain accept(2) syscall (CPython's socket.accept() uses accept4)
NR_ACCEPT = {"x86_64": 43, "aarch64": 202, "riscv64": 202, "ppc64le": 330, "s390x": None}.get(
    os.uname().machine)


def _short(addr):
    return tuple(addr[:2])


def _op_whoami(socks):
    return {"pid": os.getpid(), "comm": ntk.comm_of(), "netns": ntk.netns_inode()}


def _op_listen(socks, name, family, addr, backlog=64):
    s = socket.socket(family, socket.SOCK_STREAM)
    if family == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind((addr, 0))
    s.listen(backlog)
    socks[name] = s
    return s.getsockname()[1]


def _op_adopt(socks, name, fd):
    """Take a socket inherited from the parent across fork() by its descriptor number."""
    socks[name] = socket.socket(fileno=fd)
    return _short(socks[name].getsockname())


def _op_accept(socks, lname, name, how="accept4"):
    lst = socks[lname]
    if how == "accept4":
        s, _ = lst.accept()
    elif how == "accept":
        if NR_ACCEPT is None:
            raise ntk.Skip(f"no accept(2) syscall number known for {os.uname().machine}")
        fd = ntk.libc.syscall(ctypes.c_long(NR_ACCEPT), ctypes.c_long(lst.fileno()), None, None)
        if fd < 0:
            e = ctypes.get_errno()
            raise OSError(e, os.strerror(e))
        s = socket.socket(fileno=fd)
    else:
        raise ValueError(how)
    socks[name] = s
    return {"local": _short(s.getsockname()), "peer": _short(s.getpeername())}


def _op_connect(socks, name, family, addr, port, bind=None):
    s = socket.socket(family, socket.SOCK_STREAM)
    if bind:
        s.bind((bind, 0))
    s.connect((addr, port))
    socks[name] = s
    return _short(s.getsockname())


def _op_send(socks, name, n):
    socks[name].sendall(b"p" * n)
    return n


def _op_recv(socks, name, n):
    return ntk.recv_exact(socks[name], n)


def _op_info(socks, name):
    return ntk.tcp_info(socks[name])


def _op_close(socks, name):
    socks.pop(name).close()


def _op_exit(socks):
    for s in socks.values():
        s.close()
    socks.clear()


OPS = {"whoami": _op_whoami, "listen": _op_listen, "adopt": _op_adopt, "accept": _op_accept,
       "connect": _op_connect, "send": _op_send, "recv": _op_recv, "info": _op_info,
       "close": _op_close, "exit": _op_exit}


def _serve(ch):
    socks = {}
    while True:
        msg = ch.recv(timeout=300)
        op, args = msg[0], msg[1:]
        try:
            ch.send(("ok", OPS[op](socks, *args)))
        except ntk.Skip as e:
            ch.send(("skip", str(e)))
        except Exception as e:
            ch.send(("err", f"{op}{args!r}: {e!r}"))
        if op == "exit":
            return


class Peer:
    """The process; call() runs one operation and returns its result; start()/result()
    split it so that two peers can work at once (one sends while the other reads)."""

    def __init__(self, netns=None, comm=None):
        self.child = ntk.Child(_serve, netns=netns, comm=comm)
        self.pid = self.child.pid
        self.who = self.call("whoami")

    def start(self, op, *args):
        self.child.send((op,) + args)

    def result(self, timeout=30.0):
        status, res = self.child.recv(timeout)
        if status == "skip":
            raise ntk.Skip(res)
        if status != "ok":
            raise ntk.Failed(f"peer {self.pid}: {res}")
        return res

    def call(self, op, *args, timeout=30.0):
        self.start(op, *args)
        return self.result(timeout)

    def exit(self):
        self.call("exit")
        return self.child.wait()


def compare_idle(tracer, label, conn_id, peer, name, outgoing, attempts=3):
    """conncheck.compare_idle for a socket held by a Peer: TCP_INFO is read in the peer
    before and after the first metrics record made after t0; if it moved, again."""
    for attempt in range(attempts):
        before = peer.call("info", name)
        t0 = time.time_ns()
        rec = tracer.wait_for(lambda r: r.get("type") == "metrics" and r.get("id") == conn_id
                              and r["ts_ns"] > t0, 10, f"metrics record of id {conn_id}")
        after = peer.call("info", name)
        if before == after or attempt == attempts - 1:
            break
        ntk.TAP.diag(f"{label}: TCP_INFO moved during the snapshot, again")
        ntk.wait_idle(0.5)
    want = ntk.expected_metrics(after, outgoing)
    got = {k: rec[k] for k in ntk.METRIC_KEYS}
    check(got == want, f"{label}: metrics equal TCP_INFO while idle",
          f"got  {got}\nwant {want}\nTCP_INFO {after}\nrecord {rec}")
    return rec, after

# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
"""Kernel test kit: run the real nettracer against real sockets and compare what it
reports with what the kernel says (TCP_INFO, /proc, BTF).

Each test file calls ntk.main(tests): every test function runs in turn and one TAP
line is printed per check; a test may skip itself (Skip) when the machine lacks
something, with the reason. Nothing here mocks the kernel.
"""
import ctypes
import errno
import itertools
import json
import os
import pickle
import queue
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
NETTRACER = os.environ.get("NETTRACER") or os.path.join(os.environ.get("NT_BUILD", os.path.join(SRC, "build")), "nettracer")
# extra arguments for every tracer the tests start (e.g. --bpf=legacy for the legacy lane)
EXTRA_ARGS = os.environ.get("NT_EXTRA_ARGS", "").split()

CLONE_NEWNET = 0x40000000
libc = ctypes.CDLL(None, use_errno=True)


class Skip(Exception):
    """Raised by a test that cannot run on this machine; carries the reason."""


class Failed(Exception):
    pass


# ---- TAP ---------------------------------------------------------------------------------------

class Tap:
    def __init__(self):
        self.n = 0
        self.failed = 0

    def line(self, ok, desc, directive=""):
        self.n += 1
        if not ok:
            self.failed += 1
        desc = desc.replace("\n", " ").replace("#", "")
        print(f"{'ok' if ok else 'not ok'} {self.n} - {desc}{directive}", flush=True)

    def diag(self, msg):
        for l in str(msg).splitlines():
            print(f"# {l}", flush=True)


TAP = Tap()


def check(cond, desc, detail=None):
    """One TAP line. Returns cond so a test can stop early."""
    TAP.line(bool(cond), desc)
    if not cond and detail is not None:
        TAP.diag(detail)
    return bool(cond)


def check_eq(got, want, desc):
    return check(got == want, f"{desc}: {got!r} == {want!r}", f"got  {got!r}\nwant {want!r}")


def main(tests):
    """Run every test function; a test that raises is one failed line."""
    if os.geteuid() != 0:
        for t in tests:
            TAP.line(True, t.__name__, " # SKIP kernel tests need root")
        print(f"1..{TAP.n}")
        return 0
    if not os.access(NETTRACER, os.X_OK):
        TAP.line(False, f"nettracer binary at {NETTRACER}")
        print(f"1..{TAP.n}")
        return 1
    for t in tests:
        name = t.__name__
        try:
            t()
        except Skip as e:
            TAP.line(True, name, f" # SKIP {e}")
        except Exception:
            TAP.line(False, f"{name} raised")
            TAP.diag(traceback.format_exc())
        finally:
            cleanup_all()
    print(f"1..{TAP.n}", flush=True)
    return 1 if TAP.failed else 0


_cleanups = []


def on_cleanup(fn):
    _cleanups.append(fn)


def cleanup_all():
    while _cleanups:
        fn = _cleanups.pop()
        try:
            fn()
        except Exception:
            TAP.diag(traceback.format_exc())


# ---- the tracer --------------------------------------------------------------------------------

class Tracer:
    """nettracer --json running in the background; records collected as they come."""

    def __init__(self, *args, json_mode=True, interval=0.5, env=None, wait=True, extra=None):
        argv = [NETTRACER]
        if json_mode:
            argv.append("--json")
        argv += ["-t", str(interval)]
        argv += list(args)
        argv += EXTRA_ARGS if extra is None else extra
        self.argv = argv
        self.records = []
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.stderr_lines = []
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     stdin=subprocess.DEVNULL, env=env, cwd="/tmp")
        self._t_out = threading.Thread(target=self._read_stdout, daemon=True)
        self._t_err = threading.Thread(target=self._read_stderr, daemon=True)
        self._t_out.start()
        self._t_err.start()
        on_cleanup(self.kill)
        if wait:
            self.wait_started()

    def _keep(self, rec):
        """Whether to keep a record (called under the lock); subclasses filter and count."""
        return True

    def _read_stdout(self):
        for line in self.proc.stdout:
            try:
                rec = json.loads(line)
            except ValueError:
                rec = {"type": "_garbled", "line": line.decode(errors="replace")}
            with self.cond:
                if self._keep(rec):
                    self.records.append(rec)
                self.cond.notify_all()

    def _read_stderr(self):
        for line in self.proc.stderr:
            with self.cond:
                self.stderr_lines.append(line.decode(errors="replace").rstrip("\n"))
                self.cond.notify_all()

    def wait_for(self, pred, timeout=10.0, what="record"):
        """First record satisfying pred (waiting for it), or raise Failed."""
        deadline = time.monotonic() + timeout
        with self.cond:
            i = 0
            while True:
                while i < len(self.records):
                    if pred(self.records[i]):
                        return self.records[i]
                    i += 1
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and i >= len(self.records)):
                    raise Failed(f"no {what} within {timeout}s; stderr: {self.stderr_lines[-5:]}")
                self.cond.wait(min(left, 0.2))

    def wait_started(self, timeout=15.0):
        self.start_record = self.wait_for(
            lambda r: r.get("type") == "status" and r.get("event") == "start", timeout,
            "start status record")
        return self.start_record

    def select(self, pred):
        with self.lock:
            return [r for r in self.records if pred(r)]

    def stop(self, sig=signal.SIGTERM, timeout=15.0):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self._t_out.join(5)
        self._t_err.join(5)
        return rc

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def conn_pred(sport=None, dport=None, type=None, netns=None):
    def p(r):
        return ((type is None or r.get("type") == type) and
                (sport is None or r.get("sport") == sport) and
                (dport is None or r.get("dport") == dport) and
                (netns is None or r.get("netns") == netns))
    return p


# ---- kernel ground truth -----------------------------------------------------------------------

TCP_INFO_FMT = {
    "state": (0, "B"), "rtt": (68, "I"), "rttvar": (72, "I"), "total_retrans": (100, "I"),
    "bytes_acked": (120, "Q"), "bytes_received": (128, "Q"), "segs_out": (136, "I"),
    "segs_in": (140, "I"), "bytes_sent": (200, "Q"),
}


def tcp_info(sock):
    b = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
    return {k: struct.unpack_from(f, b, off)[0] for k, (off, f) in TCP_INFO_FMT.items()}


def expected_metrics(info, outgoing):
    """What nettracer must report for an idle ESTABLISHED socket, from its TCP_INFO:
    payload bytes (the SYN of an active open is in tcpi_bytes_acked), and the rest as is."""
    return {
        "bytes_sent": info["bytes_acked"] - (1 if outgoing else 0),
        "bytes_received": info["bytes_received"],
        "packets_sent": info["segs_out"],
        "packets_received": info["segs_in"],
        "retransmits": info["total_retrans"],
        "rtt_us": info["rtt"],
        "rtt_var_us": info["rttvar"],
    }


METRIC_KEYS = ["bytes_sent", "bytes_received", "packets_sent", "packets_received",
               "retransmits", "rtt_us", "rtt_var_us"]


def netns_inode(pid="self"):
    return os.stat(f"/proc/{pid}/ns/net").st_ino


def comm_of(pid="self"):
    with open(f"/proc/{pid}/comm") as f:
        return f.read().rstrip("\n")


def set_comm(name):
    """prctl(PR_SET_NAME): the thread's comm, which is what BPF sees."""
    libc.prctl(15, name.encode()[:15], 0, 0, 0)


# ---- network namespaces ------------------------------------------------------------------------

def sh(*cmd, check=True):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if check and r.returncode:
        raise Failed(f"{' '.join(cmd)}: rc={r.returncode} {r.stderr.strip()}")
    return r


_ns_seq = [0]


def make_netns_pair(v4=True, v6=True):
    """Two fresh network namespaces joined by a veth pair:
    A: 10.77.<k>.1 fd77:<k>::1    B: 10.77.<k>.2 fd77:<k>::2
    Returns (nsA, nsB, addrs). Removed at cleanup."""
    _ns_seq[0] += 1
    k = (os.getpid() + _ns_seq[0]) % 250 + 1
    a, b = f"ntA{os.getpid()}_{_ns_seq[0]}", f"ntB{os.getpid()}_{_ns_seq[0]}"
    va, vb = f"nta{k}_{_ns_seq[0]}"[:15], f"ntb{k}_{_ns_seq[0]}"[:15]
    sh("ip", "netns", "add", a)
    on_cleanup(lambda: sh("ip", "netns", "del", a, check=False))
    sh("ip", "netns", "add", b)
    on_cleanup(lambda: sh("ip", "netns", "del", b, check=False))
    sh("ip", "link", "add", va, "netns", a, "type", "veth", "peer", "name", vb, "netns", b)
    addrs = {"a4": f"10.77.{k}.1", "b4": f"10.77.{k}.2", "a6": f"fd77:{k}::1", "b6": f"fd77:{k}::2"}
    for ns, dev, x in ((a, va, "a"), (b, vb, "b")):
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "-n", ns, "link", "set", dev, "up")
        if v4:
            sh("ip", "-n", ns, "addr", "add", addrs[x + "4"] + "/24", "dev", dev)
        if v6:
            sh("ip", "-n", ns, "addr", "add", addrs[x + "6"] + "/64", "dev", dev, "nodad")
    return a, b, addrs


def enter_netns(name):
    """setns() the calling thread (use in a forked child) into a named namespace."""
    fd = os.open(f"/run/netns/{name}", os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            e = ctypes.get_errno()
            raise OSError(e, os.strerror(e))
    finally:
        os.close(fd)


class Child:
    """A forked process that runs fn(conn, *args) and talks to the parent over a
    socketpair with pickled messages. Used for servers and clients in other
    namespaces, and for a separate acceptor process."""

    def __init__(self, fn, *args, netns=None, comm=None):
        self.parent_sock, child_sock = socket.socketpair()
        self.pid = os.fork()
        if self.pid == 0:
            code = 0
            try:
                self.parent_sock.close()
                if netns:
                    enter_netns(netns)
                if comm:
                    set_comm(comm)
                fn(Channel(child_sock), *args)
            except BaseException:
                traceback.print_exc()
                code = 1
            finally:
                os._exit(code)
        child_sock.close()
        self.ch = Channel(self.parent_sock)
        on_cleanup(self.kill)

    def send(self, msg):
        self.ch.send(msg)

    def recv(self, timeout=10.0):
        return self.ch.recv(timeout)

    def wait(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.pid = None
                return os.waitstatus_to_exitcode(status)
            time.sleep(0.01)
        raise Failed("child did not exit")

    def kill(self):
        if self.pid:
            try:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
            except OSError:
                pass
            self.pid = None


class Channel:
    def __init__(self, sock):
        self.sock = sock

    def send(self, msg):
        data = pickle.dumps(msg)
        self.sock.sendall(struct.pack("!I", len(data)) + data)

    def recv(self, timeout=10.0):
        self.sock.settimeout(timeout)
        hdr = self._exact(4)
        return pickle.loads(self._exact(struct.unpack("!I", hdr)[0]))

    def _exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise Failed("peer closed the channel")
            buf += chunk
        return buf


_next_port = itertools.count(41000)


def bind_own_port(sock, addr):
    """Binds sock to addr and a port no earlier call used. A connection the server closes
    first, or resets, leaves no TIME_WAIT on the client: with port 0 the kernel may hand
    its port out again, and two connections' records could not be told apart."""
    while True:
        port = next(_next_port)
        try:
            sock.bind((addr, port))
            return
        except OSError as e:
            if e.errno != errno.EADDRINUSE or port > 65000:
                raise


def recv_exact(sock, n):
    got = 0
    while got < n:
        chunk = sock.recv(min(1 << 20, n - got))
        if not chunk:
            break
        got += len(chunk)
    return got


def wait_idle(seconds=1.0):
    """TCP_INFO stops moving once nothing is in flight: delayed ACKs out, RTT settled."""
    time.sleep(seconds)


def bpftool_names(kind):
    """Names of loaded BPF programs ('prog') or links ('link') as bpftool shows them."""
    r = sh("bpftool", "-j", kind, "show", check=False)
    if r.returncode:
        raise Failed(f"bpftool {kind} show failed: {r.stderr}")
    return json.loads(r.stdout or "[]")

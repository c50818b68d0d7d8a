#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
"""Connections on 127.0.0.1, ::1 and v4-mapped addresses: identity, metrics vs TCP_INFO,
payload bytes after close."""
import socket

import ntk
from conncheck import run_pair


def start():
    return ntk.Tracer(interval=0.3)


def test_ipv4_loopback():
    ntk.set_comm("ntk-lo4")
    run_pair(start(), "127.0.0.1", family=socket.AF_INET, listen_addr="127.0.0.1",
             connect_addr="127.0.0.1", client_saddr="127.0.0.1", server_saddr="127.0.0.1")


def test_ipv6_loopback():
    if not socket.has_ipv6 or not ntk.os.path.exists("/proc/net/if_inet6"):
        raise ntk.Skip("no IPv6 on this host")
    ntk.set_comm("ntk-lo6")
    run_pair(start(), "::1", family=socket.AF_INET6, listen_addr="::1", connect_addr="::1",
             client_saddr="::1", server_saddr="::1")


def test_v4_mapped():
    """AF_INET6 sockets talking IPv4 (::ffff:127.0.0.1) are reported as IPv4."""
    if not ntk.os.path.exists("/proc/net/if_inet6"):
        raise ntk.Skip("no IPv6 on this host")
    ntk.set_comm("ntk-mapped")
    run_pair(start(), "v4-mapped", family=socket.AF_INET6, listen_addr="::",
             connect_addr="::ffff:127.0.0.1", client_saddr="127.0.0.1", server_saddr="127.0.0.1")


def test_v4_client_to_dual_stack_server():
    """IPv4 client, dual-stack AF_INET6 server: the accepted socket is v4-mapped."""
    if not ntk.os.path.exists("/proc/net/if_inet6"):
        raise ntk.Skip("no IPv6 on this host")
    ntk.set_comm("ntk-dual")
    run_pair(start(), "dual-stack", family=socket.AF_INET6, listen_addr="::",
             connect_addr="127.0.0.1", client_family=socket.AF_INET, client_saddr="127.0.0.1",
             server_saddr="127.0.0.1")


def test_clean_stop():
    t = start()
    rc = t.stop()
    ntk.check_eq(rc, 0, "SIGTERM: exit status")
    stop = [r for r in t.records if r.get("type") == "status" and r.get("event") == "stop"]
    ntk.check(len(stop) == 1, "SIGTERM: one stop status record")
    garbled = [r for r in t.records if r.get("type") == "_garbled"]
    ntk.check(not garbled, "every stdout line is JSON", garbled[:3])


if __name__ == "__main__":
    raise SystemExit(ntk.main([test_ipv4_loopback, test_ipv6_loopback, test_v4_mapped,
                               test_v4_client_to_dual_stack_server, test_clean_stop]))

#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
"""Which kernel hooks nettracer picks: the one --probe says, the first that works in
the order of preference, the better one where kprobes and fentry exist, and exactly the
expected ones where the lane knows the kernel (NT_EXPECT_HOOK_<NAME> variables)."""
import os
import re
import subprocess

import socket

import ntk
from conncheck import run_pair
from ntk import check, check_eq

HOOKS = ["state", "accept", "snapshot", "existing"]


def probe():
    """{hook: (chosen, [(candidate, result), ...])} from nettracer --probe."""
    r = subprocess.run([ntk.NETTRACER, "--probe"] + ntk.EXTRA_ARGS, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=60)
    if not check_eq(r.returncode, 0, "--probe exits 0"):
        ntk.TAP.diag(r.stderr)
        return {}
    ntk.TAP.diag(r.stdout)
    hooks, cur = {}, None
    for line in r.stdout.splitlines():
        m = re.match(r"(\w+): ", line)
        if m and m.group(1) in HOOKS:
            cur = m.group(1)
            hooks[cur] = [None, []]
            continue
        m = re.match(r"  ([* ]) (\S+)\s+(.*)$", line)
        if m and cur:
            hooks[cur][1].append((m.group(2), m.group(3)))
            continue
        m = re.match(r"  -> (.*)$", line)
        if m and cur:
            hooks[cur][0] = m.group(1).split(":")[0].strip()
    return hooks


def start_hooks():
    t = ntk.Tracer(interval=1)
    rec = t.start_record
    check_eq(t.stop(), 0, "tracer stops with 0")
    return rec


def base(choice):
    """'tracepoint/syscalls/sys_exit_accept4+sys_exit_accept' -> the first program's hook"""
    return choice.split("+")[0]


def test_start_record_matches_probe():
    p = probe()
    rec = start_hooks()
    for h in HOOKS:
        check(h in p, f"--probe lists the {h} hook")
        if h not in p:
            continue
        want = p[h][0]
        got = rec.get(f"hook_{h}")
        check_eq(got if want != "none works" else "none", want if want != "none works" else
                 "none", f"{h}: the running tracer uses the hook --probe picked")
        ntk.TAP.diag(f"{rec.get('variant')} {h}: {got}")


def test_first_working_candidate_wins():
    p = probe()
    for h, (chosen, cands) in p.items():
        first_ok = next((c for c, res in cands if res == "ok"), None)
        if chosen and chosen.startswith("none"):
            check(first_ok is None, f"{h}: none chosen only when no candidate works")
        else:
            check_eq(base(chosen), first_ok, f"{h}: the first candidate that works is chosen")


def kernel_has_kprobes():
    return os.path.exists("/sys/bus/event_source/devices/kprobe") or \
        os.path.exists("/sys/kernel/tracing/kprobe_events") or \
        os.path.exists("/sys/kernel/debug/tracing/kprobe_events")


def test_better_accept_hook_where_kprobes_exist():
    rec = start_hooks()
    got = rec.get("hook_accept", "")
    if kernel_has_kprobes():
        check(got.startswith("fexit/") or got.startswith("kretprobe/"),
              f"with kprobes the accepting process comes from inet_csk_accept's return: {got}")
    else:
        check(got.startswith("tracepoint/syscalls/sys_exit_accept4"),
              f"without kprobes: the accept syscall exits: {got}")


def test_expected_hooks():
    """The lane knows its kernel: NT_EXPECT_HOOK_STATE=... etc."""
    want = {h: os.environ.get(f"NT_EXPECT_HOOK_{h.upper()}") for h in HOOKS}
    if not any(want.values()):
        raise ntk.Skip("this lane sets no NT_EXPECT_HOOK_* expectations")
    rec = start_hooks()
    for h, w in want.items():
        if w:
            check_eq(rec.get(f"hook_{h}"), w, f"{rec.get('variant')}: {h} hook")


def test_forced_hooks():
    """--hook restricts a part to one kind; a kind the kernel lacks leaves the part off
    (optional parts) or stops the start with a clear line (the state hook)."""
    t = ntk.Tracer("--hook=accept=tracepoint", interval=1)
    check(t.start_record.get("hook_accept", "").startswith("tracepoint/syscalls/"),
          f"--hook accept=tracepoint: {t.start_record.get('hook_accept')}")
    check_eq(t.stop(), 0, "stops with 0")
    r = subprocess.run([ntk.NETTRACER, "--json", "--hook=state=nosuch"] + ntk.EXTRA_ARGS,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
    lines = r.stderr.strip().splitlines()
    check(r.returncode != 0 and any("nosuch" in l for l in lines),
          "an unknown hook kind is refused, naming it", r.stderr)
    check_eq(r.stdout, "", "nothing on stdout")
    r = subprocess.run([ntk.NETTRACER, "--json", "--hook=state=fentry", "--duration=1"] +
                       ntk.EXTRA_ARGS, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=60)
    p = probe()
    fentry_ok = any(c.startswith("fentry/") and res == "ok" for c, res in p.get("state",
                                                                              (0, []))[1])
    if fentry_ok:
        check_eq(r.returncode, 0, "--hook state=fentry works where fentry does")
    else:
        check(r.returncode == 1 and "no usable hook for TCP state changes" in r.stderr,
              "--hook state=fentry where fentry is refused: one clear line, exit 1", r.stderr)


def test_every_snapshot_program():
    """Each snapshot program this kernel runs (iterator, bpf_loop, bounded loop) reports
    metrics equal to TCP_INFO: --hook=snapshot=KIND/TARGET picks it."""
    p = probe()
    working = [c for c, res in p.get("snapshot", (None, []))[1] if res == "ok"]
    if not working:
        raise ntk.Skip("no snapshot program works on this kernel")
    for cand in working:
        t = ntk.Tracer(f"--hook=snapshot={cand}", interval=0.2)
        check_eq(t.start_record.get("hook_snapshot"), cand, f"--hook snapshot={cand} is used")
        run_pair(t, f"snapshot={cand}", family=socket.AF_INET, listen_addr="127.0.0.1",
                 connect_addr="127.0.0.1", client_saddr="127.0.0.1", server_saddr="127.0.0.1")
        check_eq(t.stop(), 0, f"snapshot={cand}: stops with 0")
    r = subprocess.run([ntk.NETTRACER, "--json", "--hook=snapshot=test_run/nosuch"] +
                       ntk.EXTRA_ARGS, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=60)
    errors = [l for l in r.stderr.splitlines() if "error:" in l]
    check(r.returncode == 1 and len(errors) == 1 and "test_run/nosuch" in errors[0],
          "a hook the part does not have: one error line naming it, exit 1", r.stderr)


if __name__ == "__main__":
    raise SystemExit(ntk.main([test_start_record_matches_probe, test_first_working_candidate_wins,
                               test_better_accept_hook_where_kprobes_exist, test_expected_hooks,
                               test_forced_hooks, test_every_snapshot_program]))

#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
"""Test tools/check_legacy_bpf.py on objects made to break one Linux 4.15 rule each.

Usage: run.py CHECKER OBJECT.bpf.o [...]

A checker that rejects everything would pass a test that only looks at its exit status.
So a bad object passes here only when the checker rejects it for its own rule and for no
other one, and good.bpf.o must pass every check. The objects are built by
tests/meson.build from the *.bpf.c next to this file; EXPECTED names the rule each of them
breaks, or the advisory rule it must be noted for without failing. Output is TAP.
"""
import os
import re
import subprocess
import sys

# object (file name without .bpf.o) -> the one rule it breaks; None: it breaks none;
# NOTE + rule: an advisory rule, named in the checker's output but not failed
NOTE = "note:"
EXPECTED = {
    "good": None,
    "bad_global_data": "global_data",
    "bad_subprog_call": "calls",
    "bad_loop": "loops",
    "bad_jmp32": "isa",
    "bad_atomic_fetch": "isa",
    "bad_probe_read_kernel": "helpers",
    "bad_ringbuf": "map_types",
    "bad_core_read": "core",
    "bad_too_big": "insn_limit",
    "newer_raw_tp": NOTE + "prog_type",
}
GOOD_PROGRAMS = 3  # good.bpf.o: three programs, two of them in one section

TAP_LINE = re.compile(r"^(ok|not ok) (\d+) - \[(\w+)\] ")
PLAN = re.compile(r"^1\.\.(\d+)$")


class Tap:
    def __init__(self):
        self.count = 0
        self.failed = 0

    def check(self, ok, desc, diag=""):
        self.count += 1
        if not ok:
            self.failed += 1
        print("%s %d - %s" % ("ok" if ok else "not ok", self.count, desc))
        if not ok and diag:
            for line in diag.splitlines():
                print("# " + line)


class Result:
    """One run of the checker, its TAP parsed."""

    def __init__(self, checker, *args):
        proc = subprocess.run([sys.executable, checker, *args], capture_output=True, text=True)
        self.status = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.failed_rules = set()
        self.lines = 0
        self.plan = None
        self.programs = 0
        self.noted_rules = set()  # advisory rules whose "ok" line names a problem
        for line in proc.stdout.splitlines():
            m = TAP_LINE.match(line)
            if m:
                self.lines += 1
                if int(m.group(2)) != self.lines:
                    self.plan = -1  # numbering broken: make the plan check fail
                if m.group(1) == "not ok":
                    self.failed_rules.add(m.group(3))
                elif "needs a newer kernel" in line:
                    self.noted_rules.add(m.group(3))
            elif PLAN.match(line) and self.plan is None:
                self.plan = int(PLAN.match(line).group(1))
            elif line.startswith("# program "):
                self.programs += 1

    @property
    def plan_ok(self):
        return self.plan == self.lines and self.lines > 0

    def report(self):
        """What to print when a check about this run fails."""
        out = ["exit status %d" % self.status]
        out += [l for l in self.stdout.splitlines() if l.startswith(("not ok", "#   "))][:20]
        out += self.stderr.splitlines()[-10:]
        return "\n".join(out)


def case_name(path):
    name = os.path.basename(path)
    return name[:-len(".bpf.o")] if name.endswith(".bpf.o") else name


def main(argv):
    if len(argv) < 3:
        print("usage: %s CHECKER OBJECT.bpf.o [...]" % os.path.basename(argv[0]), file=sys.stderr)
        return 2
    checker, objects = argv[1], argv[2:]
    tap = Tap()

    cases = {case_name(p): p for p in objects}
    unknown = sorted(set(cases) - set(EXPECTED))
    missing = sorted(set(EXPECTED) - set(cases))
    tap.check(not unknown and not missing, "every case is built and has an expected rule",
              "not built: %s\nno expectation: %s" % (", ".join(missing), ", ".join(unknown)))

    for name in sorted(cases, key=lambda n: (n != "good", n)):
        rule = EXPECTED.get(name)
        res = Result(checker, cases[name])
        if name == "good":
            tap.check(res.status == 0 and not res.failed_rules and res.plan_ok,
                      "good: passes every check", res.report())
            tap.check(res.programs == GOOD_PROGRAMS,
                      "good: %d programs found (two share a section)" % GOOD_PROGRAMS,
                      "found %d" % res.programs)
        elif rule is not None and rule.startswith(NOTE):
            rule = rule[len(NOTE):]
            tap.check(res.status == 0 and not res.failed_rules and res.plan_ok and
                      res.noted_rules == {rule},
                      "%s: noted for [%s], not failed" % (name, rule),
                      "noted: %s\n%s" % (sorted(res.noted_rules) or "none", res.report()))
        elif rule is not None:
            tap.check(res.status == 1 and res.failed_rules == {rule} and res.plan_ok,
                      "%s: rejected for [%s] and nothing else" % (name, rule),
                      "failed rules: %s\n%s" % (sorted(res.failed_rules) or "none", res.report()))

    # what is not a BPF object is a failed check, not a crash
    res = Result(checker, os.path.abspath(__file__))
    tap.check(res.status == 1 and res.failed_rules == {"elf"} and res.plan_ok and not res.stderr,
              "not an ELF file: one failed [elf] check, no traceback", res.report())
    res = Result(checker)
    tap.check(res.status == 2 and "usage" in res.stderr, "no arguments: usage, exit status 2",
              res.report())

    print("1..%d" % tap.count)
    return 1 if tap.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
"""Count every test case of a `meson test` run and print the last line of the test
command: "N passed, N failed, N skipped". Every TAP line of every test program is one
case; a program that dies without reporting a failure counts as one failed case."""
import json
import re
import sys

TAP_LINE = re.compile(r"^(not ok|ok)\b[^#]*(#\s*(SKIP|TODO)\b.*)?$", re.I)


def main(path):
    passed = failed = skipped = 0
    broken = []
    try:
        with open(path) as f:
            entries = [json.loads(l) for l in f if l.strip()]
    except (OSError, ValueError) as e:
        print(f"test summary: cannot read {path}: {e}", file=sys.stderr)
        print("0 passed, 1 failed")
        return 1
    for e in entries:
        p = f = s = 0
        for line in (e.get("stdout") or "").splitlines():
            m = TAP_LINE.match(line.strip())
            if not m:
                continue
            directive = (m.group(3) or "").upper()
            if directive == "SKIP":
                s += 1
            elif m.group(1).lower() == "ok" or directive == "TODO":
                p += 1
            else:
                f += 1
        result = e.get("result", "")
        if p + f + s == 0:  # not a TAP program: the program is the case
            if result == "OK":
                p = 1
            elif result == "SKIP":
                s = 1
            else:
                f = 1
        elif result not in ("OK", "SKIP") and f == 0:
            f = 1  # crashed, timed out or exited non-zero after its last line
        if f:
            broken.append(e.get("name", "?"))
        passed, failed, skipped = passed + p, failed + f, skipped + s
    if broken:
        print("failed: " + ", ".join(broken), file=sys.stderr)
    line = f"{passed} passed, {failed} failed"
    if skipped:
        line += f", {skipped} skipped"
    print(line)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "build/meson-logs/testlog.json"))

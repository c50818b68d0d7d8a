#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# Build nettracer, its unit tests and btf_offsets with AddressSanitizer (+LeakSanitizer) and
# UndefinedBehaviorSanitizer in their own build directory, and run the test suite there.
# The kernel tests start <build>/nettracer (meson sets NT_BUILD per build directory), so the
# whole tracer runs sanitized.
#   tools/sanitize.sh                        every test (unit and kernel suites)
#   tools/sanitize.sh --unit                 the unit suite only (no root, no BPF)
#   tools/sanitize.sh [MESON-TEST-ARGS...]   e.g. --suite kernel, or test names:
#                                            kernel_loopback kernel_loopback_legacy
# The last line is "N passed, N failed[, N skipped]" (tools/test_summary.py).
# BUILD=dir chooses the build directory (default: build-asan). Extra sanitizer options may be
# given in ASAN_OPTIONS / UBSAN_OPTIONS; they are appended to (and override) the ones below.
#
# How a sanitizer report fails a test: a test program, or a tracer a kernel test starts, may
# report to stderr and die where nobody looks (a tracer killed at cleanup, a stderr that is
# only searched for one line), so reports go to files instead (log_path) and every test runs
# under this script as a meson test wrapper (--wrapper): each test gets its own report
# directory, and a test that leaves a report fails, whatever its TAP lines said, with the
# reports on its stderr. After the run, every report is listed again with its test.
set -eu

self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
top=$(cd "$(dirname "$0")/.." && pwd)

# ---- wrapper mode: meson test runs each test as "sanitize.sh --wrap CMD..." ----------------
if [ "${1:-}" = "--wrap" ]; then
	shift
	: "${NT_SAN_LOGS:?--wrap is for meson test --wrapper, run by tools/sanitize.sh}"
	# a name for the test: the program or script, and the lane's extra tracer arguments
	label=""
	for a in "$@"; do
		case $a in
		*.py | */test_* | */btf_offsets) [ -n "$label" ] || label=$(basename "$a") ;;
		esac
	done
	[ -n "$label" ] || label=$(basename "$1")
	[ -n "${NT_EXTRA_ARGS:-}" ] && label="$label (NT_EXTRA_ARGS=$NT_EXTRA_ARGS)"
	dir=$(mktemp -d "$NT_SAN_LOGS/t.XXXXXX")
	printf '%s\n' "$label" >"$dir/test"
	rc=0
	ASAN_OPTIONS="${ASAN_OPTIONS:-}:log_path=$dir/asan" \
		UBSAN_OPTIONS="${UBSAN_OPTIONS:-}:log_path=$dir/ubsan" "$@" || rc=$?
	reports=$(find "$dir" -name 'asan.*' -o -name 'ubsan.*' | sort)
	[ -z "$reports" ] && exit $rc
	n=$(printf '%s\n' "$reports" | wc -l)
	echo "sanitize: $label: $n sanitizer report(s), the test fails:" >&2
	for r in $reports; do
		echo "---- $r" >&2
		cat "$r" >&2
	done
	[ $rc -ne 0 ] && exit $rc
	exit 1
fi

# ---- configure, build, test ----------------------------------------------------------------
build=${BUILD:-$top/build-asan}
case "${1:-}" in
--unit)
	shift
	set -- --suite unit "$@"
	;;
-h | --help)
	sed -n '3,12p' "$0" | sed 's/^# \{0,1\}//'
	exit 0
	;;
esac

# -Db_lundef=false: the sanitizer runtimes resolve some symbols at run time (needed with
# clang, harmless with gcc); frame pointers give full stacks from ASan's fast unwinder.
# The runtimes are linked statically (-static-libasan -static-libubsan): with gcc's shared
# libasan + libubsan, UBSan takes itself for a plugin of ASan and ignores log_path (in
# UBSAN_OPTIONS and ASAN_OPTIONS alike), so its reports would only go to stderr.
opts="-Dstatic=false -Db_sanitize=address,undefined -Db_lundef=false -Dvm_lane=false
-Dbuildtype=debugoptimized -Dc_args=-fno-omit-frame-pointer
-Dc_link_args=['-static-libasan','-static-libubsan']"

t0=$(date +%s)
mkdir -p "$build"
blog=$build/sanitize-build.log
# shellcheck disable=SC2086
if ! { if [ -f "$build/build.ninja" ]; then meson configure "$build" $opts; else
	meson setup "$build" "$top" $opts; fi && ninja -C "$build"; } >"$blog" 2>&1; then
	cat "$blog" >&2
	echo "sanitize: the build failed" >&2
	# like tools/quickstart.sh test: the build counts as one failed test
	echo "0 passed, 1 failed"
	exit 1
fi
t1=$(date +%s)
echo "sanitize: build $((t1 - t0))s ($blog)" >&2

logs=$build/sanitizer-logs
rm -rf "$logs"
mkdir -p "$logs"
# halt at the first report, abort (not exit) so that nothing after it runs, leaks at exit
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:halt_on_error=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
# reports of processes the wrapper did not start (there should be none) land here
export NT_SAN_LOGS="$logs"

# with a wrapper, meson names its log after it: testlog-sanitize.sh.json
testlog=$build/meson-logs/testlog-$(basename "$self").json
rm -f "$testlog"
rc=0
# sanitized code runs 2-3 times slower: more time before meson calls a test timed out
meson test -C "$build" --print-errorlogs --timeout-multiplier 3 --wrapper "$self --wrap" "$@" >&2 ||
	rc=1
t2=$(date +%s)

# every report, with the test that produced it; the same report (kind and first frame in our
# sources) from several tests or runs once, with its count, tests and one of its files
found=0
list=$logs/reports.tsv
: >"$list"
for r in $(find "$logs" -name 'asan.*' -o -name 'ubsan.*' | sort); do
	found=$((found + 1))
	d=$(dirname "$r")
	test=$(cat "$d/test" 2>/dev/null || echo "?")
	what=$(grep -m1 -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$r" |
		sed 's/^==[0-9]*==//; s/ on address 0x[0-9a-f]*.*//' || true)
	where=$(grep -E '#[0-9]+ .* (\.\./)*(src|tests|tools)/' "$r" | grep -v libsanitizer |
		head -1 | sed 's/^ *#[0-9]* 0x[0-9a-f]* in //' || true)
	printf '%s\t%s\t%s\t%s\n' "$what" "$where" "$test" "$r" >>"$list"
done
if [ $found -gt 0 ]; then
	echo "" >&2
	echo "sanitize: $found sanitizer report(s) (all of them: $list):" >&2
	sort -t "$(printf '\t')" -k1,2 "$list" | awk -F '\t' '
		{ k = $1 "\t" $2
		  if (!(k in n)) { order[++m] = k; file[k] = $4 }
		  n[k]++
		  if (index(tests[k], "[" $3 "]") == 0) tests[k] = tests[k] "[" $3 "]" }
		END { for (i = 1; i <= m; i++) { k = order[i]; split(k, w, "\t")
			printf "  %dx %s\n     at %s\n     from %s\n     e.g. %s\n", n[k], w[1], w[2], tests[k], file[k] } }' >&2
fi
[ $found -gt 0 ] && rc=1
echo "sanitize: tests $((t2 - t1))s; $found sanitizer report(s); logs in $logs" >&2
python3 "$top/tools/test_summary.py" "$testlog" || rc=1
exit $rc

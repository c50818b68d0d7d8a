#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# Run the fuzzers of tools/fuzz/ (built by build.sh, which runs first if a binary is missing).
#   tools/fuzz/run.sh [-j N] [--merge] [SECONDS] [TARGET...]
#     SECONDS   fuzzing time per target (default 60)
#     -j N      fuzz N targets at a time (default 1)
#     --merge   afterwards, add to the committed corpus (corpus/TARGET/) the new inputs that
#               increase coverage (libFuzzer -merge=1: only those, so it stays small)
# Per target: the reproducers of known bugs in crashes/TARGET/ are replayed first (they
# should crash until the bug is fixed); then the fuzzer runs on corpus/TARGET/ (read only)
# and out/corpus/TARGET/ (its own finds), with NT_FUZZ_SKIP_KNOWN=1 so that the known bugs
# do not stop it, and writes any new crash to out/artifacts/TARGET/. Logs: out/logs/.
# Prints executions, coverage and findings per target; exits 1 if anything crashed.
set -eu
export LC_ALL=C	# libFuzzer logs hold arbitrary bytes

here=$(cd "$(dirname "$0")" && pwd)
out=$here/out
jobs=1
merge=0
seconds=60
while [ $# -gt 0 ]; do
	case $1 in
	-j) jobs=$2; shift 2 ;;
	--merge) merge=1; shift ;;
	-h | --help) sed -n '3,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	[0-9]*) seconds=$1; shift ;;
	*) break ;;
	esac
done
targets=${*:-options numbers proc_tcp format_file cache_load render btf_ids}

for t in $targets; do
	if [ ! -x "$out/fuzz_$t" ]; then
		# shellcheck disable=SC2086
		"$here/build.sh" $targets
		break
	fi
done
mkdir -p "$out/logs"
# cache_load writes a file per input: tmpfs is ten times faster than a disk
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
	export TMPDIR=/dev/shm
fi

# known bugs: a reproducer that no longer crashes means the bug was fixed
replay() {
	t=$1
	n=0
	still=0
	: >"$out/logs/$t.replay.log"
	for f in "$here/crashes/$t"/*; do
		[ -f "$f" ] || continue
		case $f in *.md | *.txt) continue ;; esac
		n=$((n + 1))
		if ! env -u NT_FUZZ_SKIP_KNOWN "$out/fuzz_$t" "$f" >>"$out/logs/$t.replay.log" 2>&1
		then
			still=$((still + 1))
		fi
	done
	echo "$n $still" >"$out/logs/$t.replay"
}

fuzz() {
	t=$1
	mkdir -p "$out/corpus/$t" "$out/artifacts/$t"
	dict=""
	[ -f "$here/dict/$t.dict" ] && dict="-dict=$here/dict/$t.dict"
	set +e
	# shellcheck disable=SC2086
	NT_FUZZ_SKIP_KNOWN=1 "$out/fuzz_$t" -max_total_time="$seconds" -timeout=25 \
		-rss_limit_mb=2560 -print_final_stats=1 -artifact_prefix="$out/artifacts/$t/" \
		$dict "$out/corpus/$t" "$here/corpus/$t" >"$out/logs/$t.log" 2>&1
	echo $? >"$out/logs/$t.rc"
	set -e
	if [ $merge -eq 1 ]; then
		NT_FUZZ_SKIP_KNOWN=1 "$out/fuzz_$t" -merge=1 "$here/corpus/$t" "$out/corpus/$t" \
			>"$out/logs/$t.merge.log" 2>&1 || echo "run.sh: merge of $t failed" >&2
	fi
}

pids=""
running=0
for t in $targets; do
	replay "$t"
	echo "run.sh: fuzzing $t for $seconds s" >&2
	fuzz "$t" &
	pids="$pids $!"
	running=$((running + 1))
	if [ "$running" -ge "$jobs" ]; then
		first=${pids# }
		first=${first%% *}
		wait "$first" || true
		pids=${pids# }
		pids=${pids#"$first"}
		running=$((running - 1))
	fi
done
for p in $pids; do
	wait "$p" || true
done

rc=0
printf '%-12s %12s %10s %6s %7s %7s  %s\n' TARGET EXECS EXEC/S COV FT CORPUS RESULT
for t in $targets; do
	log=$out/logs/$t.log
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
	last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -n 1)
	cov=$(echo "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
	ft=$(echo "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
	corp=$(echo "$last" | sed -n 's/.* corp: \([0-9]*\)\/.*/\1/p')
	read -r known still <"$out/logs/$t.replay"
	result=ok
	if [ "$(cat "$out/logs/$t.rc")" != 0 ]; then
		art=$(sed -n 's/.*Test unit written to \(.*\)/\1/p' "$log" | tail -n 1)
		result="NEW CRASH ${art:-(see $log)}"
		rc=1
	fi
	if [ "$still" -gt 0 ]; then
		result="$result; known bugs still reproduce: $still of $known in crashes/$t/"
		rc=1
	elif [ "$known" -gt 0 ]; then
		result="$result; the $known reproducers in crashes/$t/ no longer crash: fixed?"
	fi
	printf '%-12s %12s %10s %6s %7s %7s  %s\n' "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}" \
		"${ft:-?}" "${corp:-?}" "$result"
done
exit $rc

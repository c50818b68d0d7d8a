#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# Source coverage of the fuzzed functions by the corpora (corpus/TARGET/ and out/corpus/TARGET/):
# each harness is built again with clang's source-based coverage into out/cov/, runs every
# input once, and llvm-cov reports the lines and branches of the functions under test.
#   tools/fuzz/coverage.sh [TARGET...]
set -eu
export LC_ALL=C

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
build=${BUILD:-$top/build}
cov=$here/out/cov
CC=${CC:-clang}
profdata=$(command -v llvm-profdata-14 || command -v llvm-profdata)
llvmcov=$(command -v llvm-cov-14 || command -v llvm-cov)
targets=${*:-options numbers proc_tcp format_file cache_load render btf_ids}

sources() {
	case $1 in
	options | numbers) echo src/user/options.c ;;
	proc_tcp) echo src/user/existing.c ;;
	format_file) echo src/user/sysutil.c ;;
	render) echo src/user/format.c ;;
	btf_ids) echo src/user/btf_ids.c ;;
	cache_load) echo src/guess/guess.c src/guess/kmem.c src/guess/netsetup.c \
		src/guess/search.c src/user/sysutil.c src/user/log.c ;;
	esac
}

functions() {
	case $1 in
	options) echo "nt_options_parse|report_unknown|option_name|printable" ;;
	numbers) echo "nt_parse_seconds|nt_parse_size" ;;
	proc_tcp) echo "nt_proc_parse_tcp_line|hex_words" ;;
	format_file) echo "nt_format_field_offset" ;;
	cache_load) echo "nt_guess_cache_load|nt_guess_cache_store|nt_guess_print" ;;
	btf_ids) echo "nt_btf_find_ids|scan_strings|scan_types|type_extra|rd_fill|rd_take|\
offsets_add|offsets_has" ;;
	render)
		echo "nt_render_json|nt_render_log|nt_render_table_row|nt_render_table_header|\
table_cell|table_num|json_str_raw|nt_buf_put_json_str|nt_comm_token|nt_format_time|\
nt_format_addr|nt_format_endpoint|u64_to_str|nt_metrics_from_record"
		;;
	esac
}

version=$(sed -n "s/^ *version: *'\([^']*\)'.*/\1/p" "$top/meson.build" | head -n 1)
mkdir -p "$cov"
cd "$top"
printf '%-44s %9s %9s\n' FUNCTION LINES BRANCHES
for t in $targets; do
	extra=""
	libs=""
	[ "$t" = cache_load ] && extra="-I$build" && libs="-lbpf -lelf -lz"
	[ "$t" = btf_ids ] && libs="-lbpf -lelf -lz"
	# shellcheck disable=SC2046,SC2086
	$CC -g -O0 -fsanitize=fuzzer -fprofile-instr-generate -fcoverage-mapping \
		-std=gnu11 -D_GNU_SOURCE -DNT_VERSION="\"$version\"" -I"$here" -Isrc/user \
		-Isrc/bpf -Isrc/guess $extra "$here/fuzz_$t.c" $(sources "$t") -o "$cov/fuzz_$t" \
		$libs 2>/dev/null
	rm -f "$cov/$t.profraw"
	mkdir -p "$here/out/corpus/$t"
	NT_FUZZ_SKIP_KNOWN=1 LLVM_PROFILE_FILE="$cov/$t.profraw" "$cov/fuzz_$t" -runs=0 \
		"$here/corpus/$t" "$here/out/corpus/$t" >"$cov/$t.log" 2>&1 || true
	"$profdata" merge -sparse "$cov/$t.profraw" -o "$cov/$t.profdata"
	# shellcheck disable=SC2046
	"$llvmcov" report -show-functions -instr-profile="$cov/$t.profdata" "$cov/fuzz_$t" \
		$(sources "$t") >"$cov/$t.report"
	# columns: name, then count, missed, cover% of regions, lines and branches
	grep -E "^([^ :]*:)?($(functions "$t")) " "$cov/$t.report" |
		awk -v t="$t" '{ sub(/^[^ :]*:/, "", $1)
			printf "%-44s %9s %9s\n", t ": " $1, $(NF-3), $NF }'
done
echo "coverage.sh: full reports in $cov/TARGET.report (llvm-cov show for the lines)" >&2

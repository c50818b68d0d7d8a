#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# Build the libFuzzer harnesses of tools/fuzz/ into tools/fuzz/out/, without meson:
# each harness is compiled with the sources it exercises (the lists below follow
# core_sources/tracer_sources of the top-level meson.build).
#   tools/fuzz/build.sh [TARGET...]       default: every target
# Needs clang 14 with libFuzzer (libclang-rt-14-dev); cache_load and btf_ids also libbpf,
# libelf and zlib, and cache_load the guess skeleton header of a build directory (BUILD=dir,
# default: build), which is generated here (meson, ninja, bpftool) when missing. As root, missing Debian
# packages are installed, as tools/quickstart.sh does; otherwise they are named.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
build=${BUILD:-$top/build}
out=$here/out
CC=${CC:-clang}

all_targets="options numbers proc_tcp format_file cache_load render btf_ids"
targets=${*:-$all_targets}

sources() {
	case $1 in
	options | numbers) echo src/user/options.c ;;
	proc_tcp) echo src/user/existing.c ;;
	format_file) echo src/user/sysutil.c ;;
	render) echo src/user/format.c ;;
	btf_ids) echo src/user/btf_ids.c ;;
	# guess.c needs kmem.c (and so the guess skeleton), netsetup.c, search.c, sysutil.c, log.c
	cache_load) echo src/guess/guess.c src/guess/kmem.c src/guess/netsetup.c \
		src/guess/search.c src/user/sysutil.c src/user/log.c ;;
	*) return 1 ;;
	esac
}

for t in $targets; do
	if ! sources "$t" >/dev/null; then
		echo "build.sh: unknown target '$t' (targets: $all_targets)" >&2
		exit 2
	fi
done

# ---- packages ----------------------------------------------------------------------------------
packages="clang libclang-rt-14-dev"
case " $targets " in
*" cache_load "* | *" btf_ids "*) packages="$packages libbpf-dev libelf-dev zlib1g-dev" ;;
esac
need_skel=0
case " $targets " in
*" cache_load "*)
	if [ ! -f "$build/nettracer_guess.skel.h" ]; then
		need_skel=1
		packages="$packages gcc libc6-dev pkg-config meson ninja-build bpftool"
	fi
	;;
esac
missing=""
if command -v dpkg-query >/dev/null 2>&1; then
	for p in $packages; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
			missing="$missing $p"
	done
fi
if [ -n "$missing" ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "build.sh: missing packages:$missing" >&2
		echo "build.sh: install them (apt-get install$missing), or run this as root" >&2
		exit 1
	fi
	echo "build.sh: installing$missing" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt_get() { apt-get -o DPkg::Lock::Timeout=600 -y -q "$@"; }
	# shellcheck disable=SC2086
	apt_get install --no-install-recommends $missing >&2 ||
		{ apt_get update >&2 && apt_get install --no-install-recommends $missing >&2; }
fi

# libFuzzer's runtime: clang finds it in libclang-rt-14-dev (or another clang's compiler-rt)
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return d && n; }\n' \
	>"$probe/p.c"
if ! "$CC" -fsanitize=fuzzer,address,undefined "$probe/p.c" -o "$probe/p" 2>"$probe/err"; then
	cat "$probe/err" >&2
	echo "build.sh: $CC cannot link -fsanitize=fuzzer: install libclang-rt-14-dev" >&2
	exit 1
fi

# ---- the guess skeleton (cache_load) -----------------------------------------------------------
if [ $need_skel -eq 1 ]; then
	echo "build.sh: generating nettracer_guess.skel.h in $build" >&2
	[ -f "$build/build.ninja" ] || meson setup "$build" "$top" >&2
	ninja -C "$build" nettracer_guess.skel.h >&2
fi

# ---- compile -----------------------------------------------------------------------------------
version=$(sed -n "s/^ *version: *'\([^']*\)'.*/\1/p" "$top/meson.build" | head -n 1)
cflags="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
-fno-omit-frame-pointer -std=gnu11 -Wall -Wextra -D_GNU_SOURCE
-I$here -I$top/src/user -I$top/src/bpf -I$top/src/guess"
mkdir -p "$out"
cd "$top"
pids=""
for t in $targets; do
	extra=""
	libs=""
	[ "$t" = cache_load ] && extra="-I$build" && libs="-lbpf -lelf -lz"
	[ "$t" = btf_ids ] && libs="-lbpf -lelf -lz"
	# shellcheck disable=SC2046,SC2086
	{ $CC $cflags "-DNT_VERSION=\"$version\"" $extra "$here/fuzz_$t.c" $(sources "$t") \
		-o "$out/fuzz_$t" $libs &&
		echo "build.sh: $out/fuzz_$t"; } &
	pids="$pids $!"
done
rc=0
for p in $pids; do
	wait "$p" || rc=1
done
[ $rc -eq 0 ] || echo "build.sh: a harness did not build" >&2
exit $rc

#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# Set up a fresh Debian 12 machine, build nettracer, then run it or its tests.
#   tools/quickstart.sh run [NETTRACER-OPTIONS...]   install, build, start the tracer
#   tools/quickstart.sh test [MESON-TEST-OPTIONS...] install, build, run every test;
#                                                    the last line is "N passed, N failed, N skipped"
#   tools/quickstart.sh setup                        install and build only
# Needs root (packages, and BPF). BUILD=dir chooses the build directory (default: build).
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$top/build}
action=${1:-}
[ $# -gt 0 ] && shift

case $action in
run | test | setup) ;;
*)
	echo "usage: $0 run [nettracer options] | test [meson test options] | setup" >&2
	exit 2
	;;
esac
if [ "$(id -u)" -ne 0 ]; then
	echo "quickstart: run as root (installs packages and loads BPF programs)" >&2
	exit 1
fi

# build: compiler, BPF toolchain, libraries (static archives come with the -dev packages)
# test: python3 for the kernel tests, iproute2/iptables for namespaces and packet drops,
#       qemu and busybox for the VM lane (below)
packages="gcc libc6-dev pkg-config meson ninja-build clang bpftool libbpf-dev libelf-dev
zlib1g-dev libzstd-dev python3 iproute2 iptables procps"
# the VM lane of the tests boots a kernel under QEMU
[ "$action" = test ] && packages="$packages qemu-system-x86 busybox-static"
missing=""
for p in $packages; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "quickstart: installing$missing" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt_get() { apt-get -o DPkg::Lock::Timeout=600 -y -q "$@"; }
	# shellcheck disable=SC2086
	apt_get install --no-install-recommends $missing >&2 ||
		{ apt_get update >&2 && apt_get install --no-install-recommends $missing >&2; }
fi

built=0
{ [ -f "$build/build.ninja" ] || meson setup "$build" "$top" >&2; } && ninja -C "$build" >&2 && built=1
if [ $built -ne 1 ]; then
	echo "quickstart: the build failed" >&2
	# the test command's last line counts the build as one failed test
	[ "$action" = test ] && echo "0 passed, 1 failed"
	exit 1
fi

case $action in
setup) exit 0 ;;
run) exec "$build/nettracer" "$@" ;;
test)
	rc=0
	meson test -C "$build" --print-errorlogs "$@" >&2 || rc=1
	python3 "$top/tools/test_summary.py" "$build/meson-logs/testlog.json" || rc=1
	exit $rc
	;;
esac

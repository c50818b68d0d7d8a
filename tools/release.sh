#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# Build the release binary: nettracer linked statically (glibc, libbpf, libelf, zlib, zstd)
# with both BPF variants and the guesser embedded, stripped; print what it weighs.
#   tools/release.sh [OUTPUT]      (default: build-release/nettracer)
# Build dependencies as for tools/quickstart.sh (run "tools/quickstart.sh setup" first on
# a fresh machine).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
dir=${BUILD_RELEASE:-$top/build-release}
out=${1:-$dir/nettracer}

if [ ! -f "$dir/build.ninja" ]; then
	meson setup "$dir" "$top" -Dstatic=true -Dbuildtype=release -Dkernel_tests=false >&2
fi
ninja -C "$dir" nettracer >&2
mkdir -p "$(dirname "$out")"
[ "$out" = "$dir/nettracer" ] || cp "$dir/nettracer" "$out"
unstripped=$(stat -c %s "$out")
strip --strip-all "$out"
if ldd "$out" >/dev/null 2>&1; then
	echo "release: $out is dynamically linked" >&2
	exit 1
fi
size=$(stat -c %s "$out")
echo "$out: static ($(file -b "$out" 2>/dev/null | cut -d, -f1-2 || echo ELF)), $size bytes" \
	"($((size / 1024)) KiB; $unstripped before strip)"
sha256sum "$out"
"$out" --version

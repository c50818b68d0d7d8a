#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
"""The VM lane: run nettracer's kernel tests inside a Debian 6.1 kernel under QEMU.

The kernel (linux-image-*-cloud-amd64 from the package archive, extracted, never
installed) has kprobes, fentry and BTF, unlike the development machine: the same
static nettracer binary must pick the better hooks there and pass the same tests.
The initramfs holds busybox, python3 with its standard library, ip, iptables-legacy,
bpftool, setpriv, the kernel modules the tests need (veth, iptables' filter and
statistic match), the static nettracer, btf_offsets and tests/kernel/.

Output: one TAP stream (every test line of every file of every lane, renumbered,
prefixed with "vm/<lane>"). When QEMU cannot be installed or the kernel cannot be
fetched, the lane is one skipped line with the reason, never a pass.

Usage: vmlane.py BUILD_DIR [--lanes core,legacy] [--tests loopback,netns,...]
Env:   NT_VM_CACHE (default ~/.cache/nettracer-vm), NT_VM_TIMEOUT (s, default 3000),
       NT_VM_MEM (default 2G), NT_VM_SMP (default 2)
"""
import argparse
import gzip
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
CACHE = os.environ.get("NT_VM_CACHE", os.path.expanduser("~/.cache/nettracer-vm"))
MODULES = ["veth", "iptable_filter", "xt_statistic", "xt_tcpudp"]
# ELF programs copied with their shared libraries
PROGRAMS = ["python3", "ip", "xtables-legacy-multi", "bpftool", "setpriv"]
TESTS_DEFAULT = ["hooks", "loopback", "netns", "scale", "lifecycle", "outputs"]
LANE_ARGS = {"core": "--bpf=core", "legacy": "--bpf=legacy"}
# Debian 12's 6.1 kernel has kprobes, fentry and the map iterator: the better hooks
LANE_EXPECT = {
    "core": {"STATE": "tp_btf/inet_sock_set_state", "ACCEPT": "fexit/inet_csk_accept",
             "SNAPSHOT": "iter/bpf_map_elem", "EXISTING": "iter/task_file"},
    "legacy": {"STATE": "raw_tp/inet_sock_set_state", "ACCEPT": "kretprobe/inet_csk_accept",
               "SNAPSHOT": "test_run/raw_tp", "EXISTING": "test_run/raw_tp"},
}
LANE_EXTRA_TESTS = {"legacy": ["guess", "variants"]}

tap_n = 0
tap_failed = 0


def tap(ok, desc, directive=""):
    global tap_n, tap_failed
    tap_n += 1
    tap_failed += 0 if ok else 1
    print(f"{'ok' if ok else 'not ok'} {tap_n} - {desc}{directive}", flush=True)


def diag(msg):
    for line in str(msg).splitlines():
        print(f"# {line}", flush=True)


def skip_all(reason):
    tap(True, "vm lane", f" # SKIP {reason}")
    print(f"1..{tap_n}")
    sys.exit(0)


def run(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def ensure_tools():
    """QEMU and a static busybox; installed from the archive when missing."""
    have = shutil.which("qemu-system-x86_64") and os.path.exists("/bin/busybox") and \
        run(["ldd", "/bin/busybox"]).returncode != 0
    if have:
        return None
    r = run(["apt-get", "-o", "DPkg::Lock::Timeout=600", "install", "-y", "-q",
             "--no-install-recommends", "qemu-system-x86", "busybox-static"])
    if r.returncode:
        r2 = run(["apt-get", "update", "-q"])
        r = run(["apt-get", "-o", "DPkg::Lock::Timeout=600", "install", "-y", "-q",
                 "--no-install-recommends", "qemu-system-x86", "busybox-static"])
        if r.returncode:
            return "cannot install qemu-system-x86 and busybox-static: " + \
                (r.stderr.strip().splitlines() or ["apt-get failed"])[-1]
    if not shutil.which("qemu-system-x86_64"):
        return "qemu-system-x86_64 not found after installing it"
    return None


def fetch_kernel():
    """(vmlinuz path, modules dir) of the newest linux-image-*-cloud-amd64, cached."""
    os.makedirs(CACHE, exist_ok=True)

    def package():
        r = run(["apt-cache", "depends", "linux-image-cloud-amd64"])
        m = re.search(r"Depends: (linux-image-[0-9][^\s]*)", r.stdout)
        return m.group(1) if m else None

    pkg = package()
    if not pkg:
        run(["apt-get", "update", "-q"])
        pkg = package()
    if not pkg:
        return None, None, "apt knows no linux-image-cloud-amd64"
    kdir = os.path.join(CACHE, pkg)
    vmlinuz = os.path.join(kdir, "vmlinuz")
    mods = os.path.join(kdir, "modules")
    if os.path.exists(vmlinuz) and os.path.isdir(mods):
        return vmlinuz, mods, None
    tmp = tempfile.mkdtemp(dir=CACHE)
    try:
        r = run(["apt-get", "-o", "APT::Sandbox::User=root", "download", pkg], cwd=tmp)
        if r.returncode:
            run(["apt-get", "update", "-q"])
            r = run(["apt-get", "-o", "APT::Sandbox::User=root", "download", pkg], cwd=tmp)
        if r.returncode:
            return None, None, f"cannot download {pkg}: {r.stderr.strip()[-200:]}"
        deb = [f for f in os.listdir(tmp) if f.endswith(".deb")][0]
        r = run(["dpkg-deb", "-x", os.path.join(tmp, deb), os.path.join(tmp, "x")])
        if r.returncode:
            return None, None, f"cannot extract {deb}: {r.stderr.strip()}"
        boot = os.path.join(tmp, "x", "boot")
        kfile = [f for f in os.listdir(boot) if f.startswith("vmlinuz-")][0]
        os.makedirs(kdir + ".tmp", exist_ok=True)
        shutil.copy(os.path.join(boot, kfile), os.path.join(kdir + ".tmp", "vmlinuz"))
        mroot = os.path.join(tmp, "x", "lib", "modules")
        release = os.listdir(mroot)[0]
        copy_modules(os.path.join(mroot, release), os.path.join(kdir + ".tmp", "modules"))
        with open(os.path.join(kdir + ".tmp", "release"), "w") as f:
            f.write(release + "\n")
        os.rename(kdir + ".tmp", kdir)
        return vmlinuz, mods, None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def copy_modules(src, dst):
    """The modules the tests need and everything they depend on, decompressed, with a
    load order file (dependencies first)."""
    index = {}
    for root, _, files in os.walk(src):
        for f in files:
            m = re.match(r"(.+)\.ko(\.xz|\.zst)?$", f)
            if m:
                index[m.group(1).replace("-", "_")] = os.path.join(root, f)
    order = []

    def data_of(path):
        if path.endswith(".xz"):
            import lzma
            return lzma.open(path).read()
        if path.endswith(".zst"):
            return subprocess.run(["zstd", "-dc", path], stdout=subprocess.PIPE,
                                  check=True).stdout
        with open(path, "rb") as f:
            return f.read()

    def visit(name):
        name = name.replace("-", "_")
        if name in order or name not in index:
            return
        data = data_of(index[name])
        m = re.search(rb"depends=([^\0]*)\0", data)
        for dep in (m.group(1).decode().split(",") if m and m.group(1) else []):
            visit(dep)
        os.makedirs(dst, exist_ok=True)
        with open(os.path.join(dst, name + ".ko"), "wb") as f:
            f.write(data)
        order.append(name)

    for mod in MODULES:
        visit(mod)
    with open(os.path.join(dst, "order"), "w") as f:
        f.write("\n".join(order) + "\n")


def libs_of(path):
    r = run(["ldd", path])
    if r.returncode:
        return []
    return re.findall(r"(/\S+)", r.stdout)


def copy_file(path, root, dest=None):
    dest = dest or path
    target = os.path.join(root, dest.lstrip("/"))
    os.makedirs(os.path.dirname(target), exist_ok=True)
    if not os.path.exists(target):
        shutil.copy2(os.path.realpath(path), target)
    return target


def copy_with_libs(path, root):
    copy_file(path, root)
    for lib in libs_of(path):
        copy_file(lib, root)


def build_root(root, build, modules, tests_cmd):
    for d in ("bin", "sbin", "dev", "proc", "sys", "tmp", "run", "nt", "etc", "root"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    shutil.copy("/bin/busybox", os.path.join(root, "bin", "busybox"))
    for prog in PROGRAMS:
        p = shutil.which(prog) or shutil.which(prog, path="/usr/sbin:/sbin")
        if not p:
            raise RuntimeError(f"{prog} not found on the host")
        copy_with_libs(p, root)
    # names the tests call
    for link, target in (("usr/sbin/iptables", "xtables-legacy-multi"),
                         ("usr/bin/python3", "python3.11")):
        lp = os.path.join(root, link)
        os.makedirs(os.path.dirname(lp), exist_ok=True)
        if not os.path.exists(lp):
            os.symlink(target, lp)
    shutil.copy(os.path.realpath(shutil.which("python3")),
                os.path.join(root, "usr", "bin", "python3.11"))
    # python's standard library, without what the tests never import
    stdlib = run(["python3", "-c", "import sysconfig;print(sysconfig.get_paths()['stdlib'])"]
                 ).stdout.strip()
    skip = {"test", "idlelib", "tkinter", "turtledemo", "ensurepip", "lib2to3", "pydoc_data",
            "site-packages", "dist-packages", "__pycache__", "config-3.11-x86_64-linux-gnu"}
    dst = os.path.join(root, stdlib.lstrip("/"))
    shutil.copytree(stdlib, dst, ignore=lambda d, names: [n for n in names if n in skip],
                    symlinks=True, dirs_exist_ok=True)
    for dirpath, _, files in os.walk(os.path.join(stdlib, "lib-dynload")):
        for f in files:
            for lib in libs_of(os.path.join(dirpath, f)):
                copy_file(lib, root)
    xt = "/usr/lib/x86_64-linux-gnu/xtables"
    if os.path.isdir(xt):
        shutil.copytree(xt, os.path.join(root, xt.lstrip("/")), dirs_exist_ok=True)
    shutil.copytree(modules, os.path.join(root, "modules"), dirs_exist_ok=True)
    # nettracer: the static binary and the test tree, as in a build directory
    os.makedirs(os.path.join(root, "nt", "build", "tests"), exist_ok=True)
    shutil.copy(os.path.join(build, "nettracer"), os.path.join(root, "nt", "build", "nettracer"))
    bo = os.path.join(build, "tests", "btf_offsets")
    if os.path.exists(bo):
        copy_with_libs(bo, root)
        shutil.copy(bo, os.path.join(root, "nt", "build", "tests", "btf_offsets"))
    shutil.copytree(os.path.join(SRC, "tests", "kernel"), os.path.join(root, "nt", "tests", "kernel"),
                    ignore=shutil.ignore_patterns("__pycache__", "*.c"))
    with open(os.path.join(root, "etc", "passwd"), "w") as f:
        f.write("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n")
    with open(os.path.join(root, "etc", "group"), "w") as f:
        f.write("root:x:0:\nnogroup:x:65534:\n")
    with open(os.path.join(root, "tests.sh"), "w") as f:
        f.write(tests_cmd)
    with open(os.path.join(root, "init"), "w") as f:
        f.write(INIT)
    os.chmod(os.path.join(root, "init"), 0o755)


INIT = r"""#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp; mount -t tmpfs run /run; mkdir -p /run/netns /dev/pts
mount -t devpts devpts /dev/pts
mount -t debugfs debugfs /sys/kernel/debug; mount -t bpf bpf /sys/fs/bpf
mount -t cgroup2 cgroup2 /sys/fs/cgroup
# tracefs is left unmounted on purpose: nettracer mounts it when it needs it
for m in $(cat /modules/order); do insmod /modules/$m.ko || echo "VMLANE_MODULE_FAILED $m"; done
ip link set lo up
echo "VMLANE_BOOTED kernel=$(uname -r) uptime=$(cut -d' ' -f1 /proc/uptime)"
cd /nt && sh /tests.sh
sync; poweroff -f
"""


def tests_script(lanes, tests):
    lines = ["export NT_BUILD=/nt/build PYTHONDONTWRITEBYTECODE=1 HOME=/root"]
    lines.append("echo VMLANE_PROBE_BEGIN; /nt/build/nettracer --probe; "
                 "/nt/build/nettracer --probe --bpf=legacy; echo VMLANE_PROBE_END")
    for lane in lanes:
        for t in tests + LANE_EXTRA_TESTS.get(lane, []):
            if not os.path.exists(os.path.join(SRC, "tests", "kernel", f"test_{t}.py")):
                continue
            expect = " ".join(f"NT_EXPECT_HOOK_{k}={v}" for k, v in LANE_EXPECT[lane].items())
            lines.append(f"echo VMLANE_BEGIN {lane} {t}")
            lines.append(f"NT_EXTRA_ARGS='{LANE_ARGS[lane]}' {expect} "
                         f"python3 tests/kernel/test_{t}.py 2>&1; echo VMLANE_END {lane} {t} $?")
    return "\n".join(lines) + "\n"


def make_initrd(root, out):
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            files.append(os.path.relpath(os.path.join(dirpath, n), root))
    r = subprocess.run(["/bin/busybox", "cpio", "-o", "-H", "newc"], cwd=root,
                       input="\n".join(["."] + files).encode(), stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, check=True)
    with gzip.open(out, "wb", compresslevel=1) as f:
        f.write(r.stdout)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--lanes", default="core,legacy")
    ap.add_argument("--tests", default=",".join(TESTS_DEFAULT))
    a = ap.parse_args()
    if os.geteuid() != 0:
        skip_all("the VM lane needs root (apt-get, and the tests inside run as root)")
    if os.uname().machine != "x86_64":
        skip_all(f"the VM lane boots an amd64 kernel; this host is {os.uname().machine}")
    nettracer = os.path.join(a.build, "nettracer")
    if run(["ldd", nettracer]).returncode == 0:
        skip_all("build/nettracer is not static (-Dstatic=false): the VM has no libraries for it")
    why = ensure_tools()
    if why:
        skip_all(why)
    vmlinuz, modules, why = fetch_kernel()
    if why:
        skip_all(why)
    lanes = a.lanes.split(",")
    tests = a.tests.split(",")
    work = tempfile.mkdtemp(prefix="nt-vm-")
    try:
        root = os.path.join(work, "root")
        script = tests_script(lanes, tests)
        if os.environ.get("NT_VM_SCRIPT"):	# debugging: run this shell script instead
            with open(os.environ["NT_VM_SCRIPT"]) as f:
                script = f.read()
        build_root(root, a.build, modules, script)
        make_initrd(root, os.path.join(work, "initrd.gz"))
        # one host thread for all vCPUs: with multi-threaded TCG, a vCPU can hang in a
        # jump label the other vCPU is patching (the 6.1 guest's syscall tracepoint
        # static keys, when a test attaches sys_enter_*: soft lockups of both vCPUs)
        cmd = ["qemu-system-x86_64", "-accel", "tcg,thread=single", "-M", "pc", "-bios", "qboot.rom",
               "-m", os.environ.get("NT_VM_MEM", "2G"), "-smp", os.environ.get("NT_VM_SMP", "2"),
               "-display", "none", "-monitor", "none", "-serial", "stdio", "-net", "none",
               "-no-reboot", "-kernel", vmlinuz, "-initrd", os.path.join(work, "initrd.gz"),
               "-append", "console=ttyS0 quiet panic=-1 oops=panic mitigations=off"]
        timeout = int(os.environ.get("NT_VM_TIMEOUT", "3000"))
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
        parse_console(proc, timeout)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"1..{tap_n}", flush=True)
    return 1 if tap_failed else 0


def parse_console(proc, timeout):
    """Relay the VM's TAP lines as ours, file by file, lane by lane."""
    import threading
    killer = threading.Timer(timeout, proc.kill)
    killer.start()
    booted = False
    current = None
    saw_plan = False
    in_probe = False
    try:
        for raw in proc.stdout:
            line = raw.decode(errors="replace").replace("\r", "").rstrip("\n")
            if line.startswith("VMLANE_BOOTED"):
                booted = True
                diag(line)
                continue
            if line.startswith("VMLANE_MODULE_FAILED"):
                tap(False, f"vm: loading module {line.split()[-1]}")
                continue
            if line == "VMLANE_PROBE_BEGIN":
                in_probe = True
                continue
            if line == "VMLANE_PROBE_END":
                in_probe = False
                continue
            if in_probe:
                diag("vm probe: " + line)
                continue
            m = re.match(r"VMLANE_BEGIN (\S+) (\S+)", line)
            if m:
                current = f"vm/{m.group(1)}/{m.group(2)}"
                saw_plan = False
                continue
            m = re.match(r"VMLANE_END (\S+) (\S+) (\d+)", line)
            if m:
                if not saw_plan or m.group(3) != "0":
                    # a file that crashed or failed without saying where
                    if not saw_plan:
                        tap(False, f"{current}: the test file ended without its plan "
                                   f"(exit {m.group(3)})")
                current = None
                continue
            if current is None:
                diag("vm console: " + line)
                continue
            t = re.match(r"(not ok|ok)\s+\d+\s*-?\s*(.*)$", line)
            if t:
                desc = t.group(2)
                directive = ""
                d = re.search(r"\s#\s*(SKIP|TODO)\b.*$", desc, re.I)
                if d:
                    directive = " " + desc[d.start():].strip()
                    desc = desc[:d.start()]
                tap(t.group(1) == "ok", f"{current}: {desc}",
                    (" " + directive) if directive else "")
            elif re.match(r"1\.\.\d+", line):
                saw_plan = True
            elif line.startswith("#"):
                print(line, flush=True)
            else:
                diag(f"{current}: {line}")
    finally:
        killer.cancel()
        proc.wait()
    if not booted:
        tap(False, "vm: the kernel booted (no VMLANE_BOOTED line: panic, or QEMU failed)")
    elif current is not None:
        tap(False, f"{current}: the VM stopped in the middle of this file (timeout or crash)")


if __name__ == "__main__":
    sys.exit(main())

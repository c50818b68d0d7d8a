#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
"""Check that BPF ELF objects only use what a Linux 4.15 verifier accepts.

Usage: check_legacy_bpf.py OBJECT.bpf.o [...]

The legacy programs of nettracer must load on 4.15, but clang and libbpf happily
produce objects that need a much newer kernel, and nothing fails until someone runs
them on an old machine. This reads the object itself (ELF, instructions, relocations,
.BTF and .BTF.ext; no pyelftools, only struct) and checks the rules below statically.

Output is TAP: one line per rule per program (and per object for the object-wide
rules), "# " diagnostics saying where and why, the plan at the end. The exit status is 1
when any check failed, 2 on a usage error.

Each line carries its rule as "[rule]" so that tests can tell why an object failed:
  prog_type    advisory, never fails: the section names a program type 4.15 does not have
               (raw_tp, fentry, iter...). An object may carry such programs as alternatives
               that user space switches off (autoload) where the kernel lacks them; the
               line names them so that this stays a decision, not an accident.
  global_data  .data/.bss/.rodata, .kconfig/.ksyms externs, ld_imm64 of global data
  calls        bpf-to-bpf calls, .text subprograms, kfunc calls, callbacks
  loops        a cycle in the control flow (what 4.15's check_cfg() calls a back-edge),
               and the other check_cfg() errors: jumps out of the program, dead code
  isa          anything beyond -mcpu=v2: JMP32, atomics other than XADD, cpu v4
  helpers      helper ids above 57
  insn_limit   more than 4096 instructions
  core         CO-RE relocations in .BTF.ext
  map_types    BTF-defined maps of types above 16 (e.g. ring buffers)
  elf          the file could not be read
Every limit is the value of Linux 4.15; the comments say which release lifted it.
"insn N" in diagnostics counts 8-byte slots from the start of the ELF section, as
`llvm-objdump -d` does.
"""
import os
import re
import struct
import sys

# ---- what Linux 4.15 had ----------------------------------------------------------------------

LEGACY_KERNEL = "4.15"

# Highest helper id in 4.15: BPF_FUNC_getsockopt = 57. In 4.15's include/uapi/linux/bpf.h the
# __BPF_FUNC_MAPPER list ends with FN(getsockopt) (__BPF_FUNC_MAX_ID = 58): counting from
# FN(unspec) = 0, getsockopt is the 58th entry. The next one, FN(override_return) = 58, was
# appended by "bpf: add a bpf_override_function helper" (dd0bb688eaa2, re-applied as
# 9802d86585db) and first released in 4.16; bpf_getsockopt itself came with cd86d1fd2102 in 4.15.
# Helper ids are ABI, so every id above 57 is a helper 4.15 cannot know, e.g.
# bpf_probe_read_kernel/user(_str) (112-115, 5.5), bpf_ringbuf_* (130-134, 5.8),
# bpf_ktime_get_boot_ns (125, 5.8), bpf_get_current_task_btf (158, 5.11),
# bpf_for_each_map_elem (164, 5.13), bpf_loop (181, 5.17).
MAX_HELPER_ID = 57

# Highest map type in 4.15: BPF_MAP_TYPE_CPUMAP = 16 (6710e1126934, 4.15). BPF_MAP_TYPE_XSKMAP
# (17) came in 4.18, BPF_MAP_TYPE_RINGBUF (27) in 5.8.
MAX_MAP_TYPE = 16

# BPF_MAXINSNS: 4.15's bpf_prog_load() rejects insn_cnt > BPF_MAXINSNS (4096) with E2BIG.
# (5.2 lifted it to 1M instructions for privileged loaders.) An ld_imm64 counts as two.
MAX_INSNS = 4096

# Program sections (libbpf section names, matched as prefixes: "raw_tp" also catches
# "raw_tp.w/...", "cgroup/bind" catches "cgroup/bind4") whose program type or attach type 4.15
# does not have. None of them is a prefix of a section 4.15 does have (kprobe/, kretprobe/,
# tracepoint/, socket, xdp, perf_event, cgroup/skb, cgroup/sock, cgroup/dev, sockops, sk_skb...).
NEW_PROG_SECTIONS = [
    ("raw_tracepoint", "4.17"),  # BPF_PROG_TYPE_RAW_TRACEPOINT
    ("raw_tp", "4.17"),
    ("sk_msg", "4.17"),
    ("cgroup/bind", "4.17"),
    ("cgroup/connect", "4.17"),
    ("cgroup/post_bind", "4.17"),
    ("cgroup/sendmsg", "4.18"),
    ("lirc_mode2", "4.18"),
    ("lwt_seg6local", "4.18"),
    ("sk_reuseport", "4.19"),
    ("flow_dissector", "4.20"),
    ("cgroup/sysctl", "5.2"),
    ("cgroup/recvmsg", "5.2"),
    ("cgroup/getsockopt", "5.3"),
    ("cgroup/setsockopt", "5.3"),
    ("tp_btf", "5.5"),  # BPF_PROG_TYPE_TRACING
    ("fentry", "5.5"),
    ("fexit", "5.5"),
    ("freplace", "5.6"),
    ("struct_ops", "5.6"),
    ("fmod_ret", "5.7"),
    ("lsm", "5.7"),
    ("iter", "5.8"),
    ("cgroup/getpeername", "5.8"),
    ("cgroup/getsockname", "5.8"),
    ("sk_lookup", "5.9"),
    ("cgroup/sock_release", "5.9"),
    ("syscall", "5.14"),
    ("kprobe.multi", "5.18"),
    ("kretprobe.multi", "5.18"),
    ("netfilter", "6.4"),
    ("uprobe.multi", "6.6"),
    ("uretprobe.multi", "6.6"),
    ("tcx", "6.6"),
    ("netkit", "6.7"),
]

# The rules, in the order they are printed for each program. Object-wide checks reuse the
# same names so that one name always means one rule.
RULES = {
    "prog_type": "program type exists in 4.15",
    "global_data": "no global data (.data/.bss/.rodata: 5.2; .kconfig/.ksyms externs: 5.2/5.10)",
    "calls": "no bpf-to-bpf calls (4.16), kfunc calls or callbacks (5.13)",
    "loops": "no loops: no back-edge in the control flow (bounded loops: 5.3)",
    "isa": "-mcpu=v2 instructions only (JMP32: 5.1, atomics beyond XADD: 5.12, cpu v4: 6.6)",
    "helpers": "helper ids <= %d (BPF_FUNC_getsockopt, the last in 4.15)" % MAX_HELPER_ID,
    "insn_limit": "at most %d instructions (BPF_MAXINSNS in 4.15)" % MAX_INSNS,
    "core": "no CO-RE relocations (4.15 has no kernel BTF; vmlinux BTF: 5.4)",
    "map_types": "map types <= %d (BPF_MAP_TYPE_CPUMAP, the last in 4.15)" % MAX_MAP_TYPE,
}
# Reported, never failed: see the docstring.
ADVISORY_RULES = {"prog_type"}
PROGRAM_RULES = ["prog_type", "global_data", "calls", "loops", "isa", "helpers",
                 "insn_limit", "core"]

MAX_DIAG = 6  # diagnostics printed per failed check; the rest are counted


class FormatError(Exception):
    """The file is not a BPF ELF object we can read (or is truncated)."""


# ---- ELF ---------------------------------------------------------------------------------------

EM_BPF = 247
SHT_PROGBITS = 1
SHT_SYMTAB = 2
SHT_NOBITS = 8
SHT_REL = 9
SHF_ALLOC = 0x2
SHF_EXECINSTR = 0x4
SHN_UNDEF = 0
SHN_LORESERVE = 0xff00
STT_FUNC = 2
STT_SECTION = 3


class Section:
    def __init__(self, index, name_off, sh_type, flags, offset, size, link, info, entsize):
        self.index = index
        self.name_off = name_off
        self.name = ""
        self.type = sh_type
        self.flags = flags
        self.offset = offset
        self.size = size
        self.link = link
        self.info = info
        self.entsize = entsize

    @property
    def is_program(self):
        """Executable PROGBITS: program code (.text holds the subprograms)."""
        return self.type == SHT_PROGBITS and self.flags & SHF_EXECINSTR


class Symbol:
    def __init__(self, name, value, size, info, shndx):
        self.name = name
        self.value = value
        self.size = size
        self.type = info & 0xf
        self.shndx = shndx

    @property
    def is_defined(self):
        return self.shndx != SHN_UNDEF and self.shndx < SHN_LORESERVE


class Reloc:
    def __init__(self, offset, sym, rtype):
        self.offset = offset
        self.sym = sym
        self.type = rtype


class ElfObject:
    """Just enough of a 64-bit little-endian ELF relocatable file: sections, symbols, REL."""

    def __init__(self, path):
        self.path = path
        try:
            with open(path, "rb") as f:
                self.data = f.read()
        except OSError as e:
            raise FormatError("cannot read it: %s" % e.strerror) from None
        self._parse_header()
        self._parse_sections()
        self.symbols = self._parse_symbols()
        self.relocs = self._parse_relocs()

    def unpack(self, fmt, offset):
        try:
            return struct.unpack_from("<" + fmt, self.data, offset)
        except struct.error:
            raise FormatError("truncated at offset %d" % offset) from None

    def section_data(self, sec):
        if sec.type == SHT_NOBITS:
            return b""
        if sec.offset + sec.size > len(self.data):
            raise FormatError("section %s runs past the end of the file" % sec.name)
        return self.data[sec.offset:sec.offset + sec.size]

    def section(self, name):
        for sec in self.sections:
            if sec.name == name:
                return sec
        return None

    def _parse_header(self):
        if self.data[:4] != b"\x7fELF":
            raise FormatError("not an ELF file")
        if self.data[4] != 2 or self.data[5] != 1:
            raise FormatError("not a 64-bit little-endian ELF file")
        (self.e_machine,) = self.unpack("H", 18)
        if self.e_machine != EM_BPF:
            raise FormatError("e_machine is %d, not EM_BPF (%d)" % (self.e_machine, EM_BPF))
        self.e_shoff, = self.unpack("Q", 40)
        self.e_shentsize, self.e_shnum, self.e_shstrndx = self.unpack("HHH", 58)
        if self.e_shentsize != 64:
            raise FormatError("unexpected section header size %d" % self.e_shentsize)

    def _parse_sections(self):
        self.sections = []
        for i in range(self.e_shnum):
            (name_off, sh_type, flags, _addr, offset, size, link, info, _align,
             entsize) = self.unpack("IIQQQQIIQQ", self.e_shoff + i * 64)
            self.sections.append(Section(i, name_off, sh_type, flags, offset, size,
                                         link, info, entsize))
        if not 0 < self.e_shstrndx < len(self.sections):
            raise FormatError("no section name table")
        names = self.section_data(self.sections[self.e_shstrndx])
        for sec in self.sections:
            sec.name = cstring(names, sec.name_off)

    def _parse_symbols(self):
        symtab = next((s for s in self.sections if s.type == SHT_SYMTAB), None)
        if symtab is None:
            return []
        if not 0 < symtab.link < len(self.sections):
            raise FormatError("symbol table without a string table")
        strtab = self.section_data(self.sections[symtab.link])
        data = self.section_data(symtab)
        symbols = []
        for off in range(0, len(data) - len(data) % 24, 24):
            name_off, info, _other, shndx, value, size = struct.unpack_from("<IBBHQQ", data, off)
            symbols.append(Symbol(cstring(strtab, name_off), value, size, info, shndx))
        return symbols

    def _parse_relocs(self):
        """{target section index: {byte offset: Reloc}} from the .rel<section> sections."""
        relocs = {}
        for sec in self.sections:
            if sec.type != SHT_REL:
                continue
            table = relocs.setdefault(sec.info, {})
            data = self.section_data(sec)
            for off in range(0, len(data) - len(data) % 16, 16):
                r_offset, r_info = struct.unpack_from("<QQ", data, off)
                table[r_offset] = Reloc(r_offset, r_info >> 32, r_info & 0xffffffff)
        return relocs

    def symbol(self, index):
        if 0 <= index < len(self.symbols):
            return self.symbols[index]
        raise FormatError("relocation against symbol %d of %d" % (index, len(self.symbols)))


def cstring(buf, off):
    if off >= len(buf):
        raise FormatError("string offset %d past its table" % off)
    end = buf.find(b"\0", off)
    return buf[off:end if end >= 0 else len(buf)].decode("utf-8", "replace")


# ---- BTF ---------------------------------------------------------------------------------------
# Only what finding map types needs: every type is read (their records differ in size), but
# only structs, pointers, arrays, modifiers, variables and data sections are kept in full.

BTF_MAGIC = 0xeB9F
KIND_INT, KIND_PTR, KIND_ARRAY, KIND_STRUCT, KIND_UNION, KIND_ENUM, KIND_FWD = 1, 2, 3, 4, 5, 6, 7
KIND_TYPEDEF, KIND_VOLATILE, KIND_CONST, KIND_RESTRICT = 8, 9, 10, 11
KIND_FUNC, KIND_FUNC_PROTO, KIND_VAR, KIND_DATASEC, KIND_FLOAT = 12, 13, 14, 15, 16
KIND_DECL_TAG, KIND_TYPE_TAG, KIND_ENUM64 = 17, 18, 19
MODIFIERS = (KIND_TYPEDEF, KIND_VOLATILE, KIND_CONST, KIND_RESTRICT, KIND_TYPE_TAG)

# bytes that follow struct btf_type, per kind: fixed, and per vlen entry
BTF_EXTRA = {
    KIND_INT: (4, 0), KIND_PTR: (0, 0), KIND_ARRAY: (12, 0), KIND_STRUCT: (0, 12),
    KIND_UNION: (0, 12), KIND_ENUM: (0, 8), KIND_FWD: (0, 0), KIND_TYPEDEF: (0, 0),
    KIND_VOLATILE: (0, 0), KIND_CONST: (0, 0), KIND_RESTRICT: (0, 0), KIND_FUNC: (0, 0),
    KIND_FUNC_PROTO: (0, 8), KIND_VAR: (4, 0), KIND_DATASEC: (0, 12), KIND_FLOAT: (0, 0),
    KIND_DECL_TAG: (4, 0), KIND_TYPE_TAG: (0, 0), KIND_ENUM64: (0, 12),
}


class BtfType:
    def __init__(self, kind, name, size_type, vlen):
        self.kind = kind
        self.name = name
        self.size_type = size_type  # size for sized kinds, a type id for the others
        self.vlen = vlen
        self.members = []  # struct/union: (name, type id); datasec: (type id, offset, size)
        self.nelems = None  # array: number of elements


class Btf:
    def __init__(self, data):
        try:
            magic, version, _flags, hdr_len = struct.unpack_from("<HBBI", data, 0)
            if magic != BTF_MAGIC:
                raise FormatError(".BTF: bad magic 0x%x" % magic)
            if version != 1:
                raise FormatError(".BTF: unknown version %d" % version)
            type_off, type_len, str_off, str_len = struct.unpack_from("<IIII", data, 8)
        except struct.error:
            raise FormatError(".BTF: truncated header") from None
        self.strings = data[hdr_len + str_off:hdr_len + str_off + str_len]
        self.types = [None]  # type id 0 is void
        self._parse_types(data[hdr_len + type_off:hdr_len + type_off + type_len])

    def _parse_types(self, buf):
        off = 0
        try:
            while off < len(buf):
                name_off, info, size_type = struct.unpack_from("<III", buf, off)
                off += 12
                kind = (info >> 24) & 0x1f
                vlen = info & 0xffff
                if kind not in BTF_EXTRA:
                    raise FormatError(".BTF: unknown kind %d (type %d)" % (kind, len(self.types)))
                t = BtfType(kind, cstring(self.strings, name_off), size_type, vlen)
                if kind == KIND_ARRAY:
                    _elem_type, _index_type, t.nelems = struct.unpack_from("<III", buf, off)
                elif kind in (KIND_STRUCT, KIND_UNION):
                    for i in range(vlen):
                        m_name, m_type, _m_off = struct.unpack_from("<III", buf, off + 12 * i)
                        t.members.append((cstring(self.strings, m_name), m_type))
                elif kind == KIND_DATASEC:
                    for i in range(vlen):
                        t.members.append(struct.unpack_from("<III", buf, off + 12 * i))
                fixed, per_entry = BTF_EXTRA[kind]
                off += fixed + per_entry * vlen
                self.types.append(t)
        except struct.error:
            raise FormatError(".BTF: truncated type section") from None

    def type(self, type_id):
        if not 0 < type_id < len(self.types):
            raise FormatError(".BTF: bad type id %d" % type_id)
        return self.types[type_id]

    def skip_modifiers(self, type_id):
        t = self.type(type_id)
        for _ in range(32):  # modifier chains are short; don't loop on bad input
            if t.kind not in MODIFIERS:
                return t
            t = self.type(t.size_type)
        raise FormatError(".BTF: modifier chain too long at type %d" % type_id)

    def datasec(self, name):
        return next((t for t in self.types[1:] if t.kind == KIND_DATASEC and t.name == name), None)

    def map_types(self):
        """[(map name, map type or None, why None)] for the BTF-defined maps of ".maps".

        libbpf's __uint(type, N) declares `int (*type)[N]`: the map definition is a struct
        whose member "type" points to an array with N elements.
        """
        sec = self.datasec(".maps")
        if sec is None:
            return []
        maps = []
        for var_id, _offset, _size in sec.members:
            var = self.type(var_id)
            if var.kind != KIND_VAR:
                maps.append(("type %d" % var_id, None, "not a variable"))
                continue
            st = self.skip_modifiers(var.size_type)
            member = next((m for m in st.members if m[0] == "type"), None) \
                if st.kind == KIND_STRUCT else None
            if member is None:
                maps.append((var.name, None, "no \"type\" member"))
                continue
            ptr = self.skip_modifiers(member[1])
            arr = self.skip_modifiers(ptr.size_type) if ptr.kind == KIND_PTR else None
            if arr is None or arr.kind != KIND_ARRAY:
                maps.append((var.name, None, "\"type\" is not a pointer to an array"))
                continue
            maps.append((var.name, arr.nelems, None))
        return maps


class BtfExt:
    """The .BTF.ext header and its CO-RE relocation records (insn_off, section name)."""

    def __init__(self, data, btf):
        try:
            magic, version, _flags, hdr_len = struct.unpack_from("<HBBI", data, 0)
            if magic != BTF_MAGIC:
                raise FormatError(".BTF.ext: bad magic 0x%x" % magic)
            if version != 1:
                raise FormatError(".BTF.ext: unknown version %d" % version)
            # func_info_off/len and line_info_off/len follow; core_relo_off/len exist
            # only when the header is long enough for them (since LLVM 10 / libbpf 0.0.6).
            (_fi_off, _fi_len, _li_off, _li_len) = struct.unpack_from("<IIII", data, 8)
            self.core_relo_off, self.core_relo_len = 0, 0
            if hdr_len >= 32:
                self.core_relo_off, self.core_relo_len = struct.unpack_from("<II", data, 24)
        except struct.error:
            raise FormatError(".BTF.ext: truncated header") from None
        self.core_relos = []  # (section name, byte offset of the instruction)
        if self.core_relo_len:
            self._parse_core_relos(data[hdr_len + self.core_relo_off:
                                        hdr_len + self.core_relo_off + self.core_relo_len], btf)

    def _parse_core_relos(self, buf, btf):
        strings = btf.strings if btf else b""
        try:
            (rec_size,) = struct.unpack_from("<I", buf, 0)
            if rec_size < 16:
                raise FormatError(".BTF.ext: CO-RE record size %d" % rec_size)
            off = 4
            while off < len(buf):
                sec_name_off, num_info = struct.unpack_from("<II", buf, off)
                off += 8
                name = cstring(strings, sec_name_off) if strings else "?"
                for i in range(num_info):
                    (insn_off,) = struct.unpack_from("<I", buf, off + i * rec_size)
                    self.core_relos.append((name, insn_off))
                off += num_info * rec_size
        except struct.error:
            raise FormatError(".BTF.ext: truncated CO-RE relocations") from None


# ---- instructions ------------------------------------------------------------------------------

BPF_LD, BPF_LDX, BPF_ST, BPF_STX, BPF_ALU, BPF_JMP, BPF_JMP32, BPF_ALU64 = range(8)
BPF_W, BPF_H, BPF_B, BPF_DW = 0x00, 0x08, 0x10, 0x18
BPF_MEMSX = 0x80  # sign-extending load (cpu v4)
BPF_ATOMIC = 0xc0  # was BPF_XADD
BPF_DIV, BPF_MOD, BPF_MOV, BPF_END = 0x30, 0x90, 0xb0, 0xd0
BPF_JA, BPF_CALL, BPF_EXIT = 0x00, 0x80, 0x90
LD_IMM64 = BPF_LD | 0x00 | BPF_DW  # BPF_LD | BPF_IMM | BPF_DW = 0x18

# src_reg of an ld_imm64
BPF_PSEUDO_MAP_FD = 1  # a map: fine
BPF_PSEUDO_MAP_VALUE = 2  # global data (5.2)
BPF_PSEUDO_BTF_ID = 3  # typed ksym (5.10)
BPF_PSEUDO_FUNC = 4  # callback address (5.13)
# src_reg of a call
BPF_PSEUDO_CALL = 1  # bpf-to-bpf (4.16)
BPF_PSEUDO_KFUNC_CALL = 2  # kfunc (5.13)


class Insn:
    def __init__(self, slot, raw):
        self.slot = slot
        self.code, regs, self.off, self.imm = struct.unpack("<BBhi", raw)
        self.dst = regs & 0xf
        self.src = regs >> 4

    @property
    def cls(self):
        return self.code & 0x07

    def __str__(self):
        return "insn %d (code 0x%02x dst r%d src r%d off %d imm %d)" % (
            self.slot, self.code, self.dst, self.src, self.off, self.imm)


def decode(data):
    """Instructions of a section, one per 8-byte slot; the 2nd half of an ld_imm64 is
    returned too (as code 0) since it counts against BPF_MAXINSNS, but is skipped by checks."""
    return [Insn(i // 8, data[i:i + 8]) for i in range(0, len(data) - len(data) % 8, 8)]


# ---- programs ----------------------------------------------------------------------------------

class Program:
    def __init__(self, names, section, first, end, insns):
        self.names = names
        self.section = section
        self.first = first  # slots [first, end) of the section
        self.end = end
        self.insns = insns

    @property
    def name(self):
        return "/".join(self.names)


def programs_of(obj, sec, insns):
    """Split a program section at its STT_FUNC symbols: clang puts every function with the
    same SEC() name into one section, so one section may hold several programs."""
    starts = {}
    for sym in obj.symbols:
        if sym.type == STT_FUNC and sym.shndx == sec.index:
            starts.setdefault(sym.value // 8, []).append(sym)
    if not starts:
        return [Program([sec.name], sec, 0, len(insns), insns)]
    slots = sorted(starts)
    progs = []
    for i, first in enumerate(slots):
        syms = starts[first]
        size = max(s.size for s in syms)
        nxt = slots[i + 1] if i + 1 < len(slots) else len(insns)
        end = min(first + size // 8, nxt) if size else nxt
        progs.append(Program(sorted(s.name for s in syms), sec, first, end, insns[first:end]))
    return progs


def successors(insns, t):
    """Indexes the instruction at index t can continue at, as 4.15's check_cfg() sees them."""
    insn = insns[t]
    if insn.code == LD_IMM64:
        return [t + 2]
    if insn.cls not in (BPF_JMP, BPF_JMP32):
        return [t + 1]
    op = insn.code & 0xf0
    if op == BPF_EXIT:
        return []
    if op == BPF_CALL:
        return [t + 1]
    if op == BPF_JA:  # JMP32|JA is gotol (cpu v4): its offset is in imm
        return [t + 1 + (insn.imm if insn.cls == BPF_JMP32 else insn.off)]
    return [t + 1, t + 1 + insn.off]


def cfg_problems(prog):
    """Loops and the other control-flow errors of 4.15's check_cfg().

    Not every backward jump is a loop: LLVM often jumps back to a block it placed earlier
    (a shared "count and return" tail, say). 4.15 accepts that; what it rejects is a
    back-edge of a depth-first walk, an edge to an instruction still on the walk's stack,
    i.e. a cycle. This walks the program the same way.
    """
    insns = prog.insns
    n = len(insns)
    if n == 0:
        return []
    first = prog.first
    problems = []
    second_halves = set()
    t = 0
    while t < n:
        if insns[t].code == LD_IMM64:
            second_halves.add(t + 1)
            t += 2
        else:
            t += 1

    NEW, ON_STACK, DONE = 0, 1, 2
    state = [NEW] * n
    state[0] = ON_STACK
    stack = [(0, iter(successors(insns, 0)))]
    while stack:
        t, todo = stack[-1]
        for w in todo:
            if not 0 <= w < n or w in second_halves:
                problems.append("%s: %s insn %d, outside the program" %
                                (insns[t], "jumps to" if w != t + 1 else "falls through to",
                                 first + w))
            elif state[w] == NEW:
                state[w] = ON_STACK
                stack.append((w, iter(successors(insns, w))))
                break
            elif state[w] == ON_STACK:
                problems.append("%s: closes a loop through insn %d "
                                "(4.15: \"back-edge from insn %d to %d\")" %
                                (insns[t], first + w, first + t, first + w))
        else:
            state[t] = DONE
            stack.pop()

    dead = [first + i for i in range(n) if state[i] == NEW and i not in second_halves]
    if dead:
        problems.append("%d unreachable instructions (4.15 rejects dead code), first insn %d" %
                        (len(dead), dead[0]))
    return problems


# ---- names, for diagnostics only ---------------------------------------------------------------

def host_uapi_names():
    """Helper and map type names from the build host's <linux/bpf.h>, when it is there.

    Only used to make messages readable ("helper 113 (probe_read_kernel)"); the limits above
    do not depend on it.
    """
    helpers, maps = {}, {}
    for path in ("/usr/include/linux/bpf.h", "/usr/include/x86_64-linux-gnu/linux/bpf.h",
                 "/usr/include/aarch64-linux-gnu/linux/bpf.h"):
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                text = f.read()
        except OSError:
            continue
        m = re.search(r"#define __BPF_FUNC_MAPPER\(FN(?:, ctx\.\.\.)?\)(.*?)\n\n", text, re.S)
        if m:
            # FN(name), in id order (older headers) or FN(name, id, ##ctx) (6.2+)
            for i, (name, num) in enumerate(re.findall(r"FN\((\w+)(?:,\s*(\d+))?", m.group(1))):
                helpers[int(num) if num else i] = name
        m = re.search(r"enum bpf_map_type \{(.*?)\};", text, re.S)
        if m:
            value = 0
            for name, expr in re.findall(r"BPF_MAP_TYPE_(\w+)\s*(?:=\s*(\w+))?\s*,", m.group(1)):
                if expr:
                    if expr.isdigit():
                        value = int(expr)
                    else:  # an alias of an earlier name
                        continue
                maps[value] = name.lower()
                value += 1
        break
    return helpers, maps


# ---- the checks --------------------------------------------------------------------------------

def is_global_data_section(name):
    return any(name == p or name.startswith(p + ".") for p in (".data", ".bss", ".rodata"))


def reloc_target(obj, sec, insn):
    """(symbol, section of the symbol or None) of the relocation at this instruction."""
    rel = obj.relocs.get(sec.index, {}).get(insn.slot * 8)
    if rel is None:
        return None, None
    sym = obj.symbol(rel.sym)
    target = obj.sections[sym.shndx] if sym.is_defined and sym.shndx < len(obj.sections) else None
    return sym, target


class Checker:
    def __init__(self):
        self.helper_names, self.map_names = host_uapi_names()

    def helper(self, hid):
        name = self.helper_names.get(hid)
        return "helper %d (bpf_%s)" % (hid, name) if name else "helper %d" % hid

    def map_type(self, mtype):
        name = self.map_names.get(mtype)
        return "%d (BPF_MAP_TYPE_%s)" % (mtype, name.upper()) if name else str(mtype)

    # -- per program --

    def check_program(self, obj, prog, core_relos):
        """{rule: [problem, ...]} for one program."""
        found = {rule: [] for rule in PROGRAM_RULES}
        sec = prog.section

        for prefix, release in NEW_PROG_SECTIONS:
            if sec.name.startswith(prefix):
                found["prog_type"].append("section \"%s\": program type from %s" %
                                          (sec.name, release))
                break

        skip_next = False
        for i, insn in enumerate(prog.insns):
            if skip_next:  # second half of an ld_imm64
                skip_next = False
                continue
            if insn.code == LD_IMM64:
                skip_next = True
                if i + 1 >= len(prog.insns):
                    found["isa"].append("%s: ld_imm64 without its second half" % insn)
                self.check_ld_imm64(obj, sec, insn, found)
            elif insn.cls in (BPF_JMP, BPF_JMP32):
                self.check_jump(obj, sec, insn, found)
            else:
                self.check_isa(insn, found)

        found["loops"] += cfg_problems(prog)

        for name, insn_off in core_relos:
            if name == sec.name and prog.first <= insn_off // 8 < prog.end:
                found["core"].append("CO-RE relocation at insn %d" % (insn_off // 8))

        if len(prog.insns) > MAX_INSNS:
            found["insn_limit"].append("%d instructions, more than %d" %
                                       (len(prog.insns), MAX_INSNS))
        return found

    def check_ld_imm64(self, obj, sec, insn, found):
        sym, target = reloc_target(obj, sec, insn)
        if insn.src == BPF_PSEUDO_MAP_VALUE:
            found["global_data"].append("%s: BPF_PSEUDO_MAP_VALUE (global data)" % insn)
        elif insn.src == BPF_PSEUDO_BTF_ID:
            found["global_data"].append("%s: BPF_PSEUDO_BTF_ID (typed ksym)" % insn)
        elif insn.src == BPF_PSEUDO_FUNC:
            found["calls"].append("%s: BPF_PSEUDO_FUNC (callback)" % insn)
        elif insn.src not in (0, BPF_PSEUDO_MAP_FD):
            found["isa"].append("%s: unknown ld_imm64 src_reg %d" % (insn, insn.src))
        if sym is None:
            return
        # In an unloaded object src_reg is still 0: the relocation says what is loaded.
        if target is None:
            found["global_data"].append("%s: extern %s (.kconfig/.ksyms)" % (insn, sym.name))
        elif target.is_program:
            found["calls"].append("%s: address of function %s (callback)" %
                                  (insn, sym.name or target.name))
        elif target.name != ".maps":
            what = "%s in %s" % (sym.name, target.name) if sym.name else target.name
            found["global_data"].append("%s: loads %s" % (insn, what))

    def check_jump(self, obj, sec, insn, found):
        op = insn.code & 0xf0
        if insn.cls == BPF_JMP32:
            found["isa"].append("%s: BPF_JMP32 (cpu v3)" % insn)
        if op == BPF_CALL:
            sym, target = reloc_target(obj, sec, insn)
            if (sym is not None and target is None) or insn.src == BPF_PSEUDO_KFUNC_CALL:
                found["calls"].append("%s: kfunc call%s" %
                                      (insn, " to " + sym.name if sym else ""))
            elif insn.src == BPF_PSEUDO_CALL or target is not None:
                callee = self.callee(obj, sym, target, insn) if sym else None
                found["calls"].append("%s: bpf-to-bpf call%s" %
                                      (insn, " to " + callee if callee else ""))
            elif insn.src != 0:
                found["isa"].append("%s: unknown call src_reg %d" % (insn, insn.src))
            elif not 0 < insn.imm <= MAX_HELPER_ID:
                found["helpers"].append("insn %d: %s" % (insn.slot, self.helper(insn.imm)))

    @staticmethod
    def callee(obj, sym, target, insn):
        """Name of the function a call relocation points to. clang relocates against the
        section symbol and keeps the offset in imm: the callee starts at slot imm + 1."""
        if sym.type != STT_SECTION or target is None:
            return sym.name
        offset = sym.value + (insn.imm + 1) * 8
        names = [s.name for s in obj.symbols
                 if s.type == STT_FUNC and s.shndx == target.index and s.value == offset]
        return names[0] if names else "%s+%d" % (target.name, offset)

    def check_isa(self, insn, found):
        mode = insn.code & 0xe0
        size = insn.code & 0x18
        op = insn.code & 0xf0
        if insn.cls == BPF_STX and mode == BPF_ATOMIC:
            # plain XADD: add, no fetch, 32 or 64 bits; the rest came with 5.12
            if size not in (BPF_W, BPF_DW):
                found["isa"].append("%s: atomic on 8/16 bits" % insn)
            elif insn.imm != 0:
                found["isa"].append("%s: atomic op 0x%x (BPF_FETCH/xchg/cmpxchg/and/or/xor)"
                                    % (insn, insn.imm))
        elif insn.cls == BPF_LDX and mode == BPF_MEMSX:
            found["isa"].append("%s: sign-extending load (cpu v4)" % insn)
        elif insn.cls in (BPF_ALU, BPF_ALU64):
            if op in (BPF_DIV, BPF_MOD) and insn.off != 0:
                found["isa"].append("%s: signed div/mod (cpu v4)" % insn)
            elif op == BPF_MOV and insn.off != 0:
                found["isa"].append("%s: sign-extending mov (cpu v4)" % insn)
            elif op == BPF_END and insn.cls == BPF_ALU64:
                found["isa"].append("%s: bswap (cpu v4)" % insn)

    # -- per object --

    def check_object(self, obj, btf, btf_ext):
        """[(rule, description, [problem, ...])] for the object-wide rules."""
        checks = []

        data_secs = ["%s (%d bytes)" % (s.name, s.size) for s in obj.sections
                     if s.flags & SHF_ALLOC and s.size > 0 and is_global_data_section(s.name)]
        data_secs += ["%s section" % s.name for s in obj.sections if s.name in (".kconfig", ".ksyms")]
        if btf:
            for name in (".kconfig", ".ksyms"):
                sec = btf.datasec(name)
                if sec is not None and sec.vlen:
                    data_secs.append("%d externs in BTF DATASEC %s" % (sec.vlen, name))
        checks.append(("global_data", "no .data/.bss/.rodata sections (5.2), "
                       "no .kconfig/.ksyms externs", data_secs))

        text = obj.section(".text")
        subprogs = []
        if text is not None and text.is_program and text.size > 0:
            names = sorted(s.name for s in obj.symbols
                           if s.type == STT_FUNC and s.shndx == text.index)
            subprogs.append(".text holds %d bytes of subprograms: %s" %
                            (text.size, ", ".join(names) or "(no symbols)"))
        checks.append(("calls", "no subprograms in .text (bpf-to-bpf calls: 4.16)", subprogs))

        core = []
        if btf_ext is not None and btf_ext.core_relo_len:
            per_sec = {}
            for name, _off in btf_ext.core_relos:
                per_sec[name] = per_sec.get(name, 0) + 1
            core.append(".BTF.ext core_relo_len is %d: %d CO-RE relocations in %d sections" %
                        (btf_ext.core_relo_len, len(btf_ext.core_relos), len(per_sec)))
        checks.append(("core", "no CO-RE relocations in .BTF.ext (core_relo_len 0)", core))

        maps = []
        if obj.section("maps") is not None:
            maps.append("legacy \"maps\" section: libbpf >= 1.0 no longer loads it")
        if obj.section(".maps") is not None:
            if btf is None:
                maps.append(".maps without .BTF: the map types cannot be read "
                            "(and libbpf cannot load BTF-defined maps without BTF)")
            else:
                for name, mtype, why in btf.map_types():
                    if mtype is None:
                        maps.append("map %s: type unknown: %s" % (name, why))
                    elif mtype > MAX_MAP_TYPE:
                        maps.append("map %s: type %s" % (name, self.map_type(mtype)))
        checks.append(("map_types", RULES["map_types"], maps))
        return checks


# ---- TAP ---------------------------------------------------------------------------------------

class Tap:
    def __init__(self):
        self.count = 0
        self.failed = 0

    def check(self, ok, rule, desc, problems=None):
        problems = problems or []
        self.count += 1
        if not ok:
            self.failed += 1
        desc = desc.replace("\n", " ").replace("#", "")
        print("%s %d - [%s] %s" % ("ok" if ok else "not ok", self.count, rule, desc))
        for p in problems[:MAX_DIAG]:
            self.diag("  " + p)
        if len(problems) > MAX_DIAG:
            self.diag("  ... and %d more" % (len(problems) - MAX_DIAG))

    @staticmethod
    def diag(msg):
        for line in str(msg).splitlines():
            print("# " + line)


def verdict(failed_rules):
    return "FAIL (%s)" % ", ".join(failed_rules) if failed_rules else "ok"


def check_file(path, checker, tap):
    label = os.path.basename(path)
    try:
        obj = ElfObject(path)
        btf_sec, ext_sec = obj.section(".BTF"), obj.section(".BTF.ext")
        btf = Btf(obj.section_data(btf_sec)) if btf_sec else None
        btf_ext = BtfExt(obj.section_data(ext_sec), btf) if ext_sec else None
        core_relos = btf_ext.core_relos if btf_ext else []

        tap.diag("%s: Linux %s constraints" % (path, LEGACY_KERNEL))
        failed = []
        for rule, desc, problems in checker.check_object(obj, btf, btf_ext):
            tap.check(not problems, rule, "%s: %s" % (label, desc), problems)
            failed += [rule] if problems else []

        for sec in obj.sections:
            if not sec.is_program or sec.name == ".text":
                continue
            insns = decode(obj.section_data(sec))
            for prog in programs_of(obj, sec, insns):
                tap.diag("program %s (section %s): %d instructions" %
                         (prog.name, sec.name, len(prog.insns)))
                found = checker.check_program(obj, prog, core_relos)
                for rule in PROGRAM_RULES:
                    desc = RULES[rule]
                    if rule in ADVISORY_RULES and found[rule]:
                        desc = "needs a newer kernel: user space must not load it on 4.15"
                    tap.check(not found[rule] or rule in ADVISORY_RULES, rule, "%s: %s: %s" %
                              (label, prog.name, desc), found[rule])
                bad = [rule for rule in PROGRAM_RULES if found[rule] and rule not in ADVISORY_RULES]
                newer = "" if not found["prog_type"] else " (not on 4.15: its program type is newer)"
                tap.diag("verdict %s: %s%s" % (prog.name, verdict(bad), newer))
                failed += bad
        tap.diag("verdict %s: %s" % (label, verdict(sorted(set(failed)))))
    except FormatError as e:
        tap.check(False, "elf", "%s: readable BPF ELF object" % label, [str(e)])


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print(__doc__.strip().split("\n\n")[0], file=sys.stderr)
        print("usage: %s OBJECT.bpf.o [...]" % os.path.basename(argv[0]), file=sys.stderr)
        return 2
    checker = Checker()
    tap = Tap()
    for path in argv[1:]:
        check_file(path, checker, tap)
    print("1..%d" % tap.count)
    return 1 if tap.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

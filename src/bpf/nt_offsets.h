/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * Where the running kernel keeps each field the legacy programs read: found by
 * the guesser (src/guess/) at start and handed to the legacy object through the
 * nt_offsets map. An ABI between the guesser and the legacy BPF programs.
 *
 * Every offset is in bytes from the start of the named struct. NT_FIELDS lists
 * them once; the struct, the names printed by `nettracer --guess` and the BTF
 * paths the tests compare them with are all generated from it.
 */
#ifndef NT_OFFSETS_H
#define NT_OFFSETS_H

#ifndef __bpf__
#include <linux/types.h>
#endif

/* X(name, BTF struct, BTF member path) */
#define NT_FIELDS(X)                                                    \
	/* struct sock (its struct sock_common) */                      \
	X(sock_family, sock, __sk_common.skc_family)                    \
	X(sock_state, sock, __sk_common.skc_state)                      \
	X(sock_rcv_saddr, sock, __sk_common.skc_rcv_saddr)              \
	X(sock_daddr, sock, __sk_common.skc_daddr)                      \
	X(sock_num, sock, __sk_common.skc_num)                          \
	X(sock_dport, sock, __sk_common.skc_dport)                      \
	X(sock_v6_rcv_saddr, sock, __sk_common.skc_v6_rcv_saddr)        \
	X(sock_v6_daddr, sock, __sk_common.skc_v6_daddr)                \
	X(sock_net, sock, __sk_common.skc_net)                          \
	X(sock_prot, sock, __sk_common.skc_prot)                        \
	X(sock_flags, sock, __sk_common.skc_flags)                      \
	/* struct net */                                                \
	X(net_inum, net, ns.inum)                                       \
	/* struct tcp_sock */                                           \
	X(tcp_bytes_acked, tcp_sock, bytes_acked)                       \
	X(tcp_bytes_received, tcp_sock, bytes_received)                 \
	X(tcp_segs_in, tcp_sock, segs_in)                               \
	X(tcp_segs_out, tcp_sock, segs_out)                             \
	X(tcp_total_retrans, tcp_sock, total_retrans)                   \
	X(tcp_srtt_us, tcp_sock, srtt_us)                               \
	X(tcp_mdev_us, tcp_sock, mdev_us)                               \
	X(tcp_snd_una, tcp_sock, snd_una)                               \
	X(tcp_write_seq, tcp_sock, write_seq)                           \
	/* the accepting process: task -> files -> fdt -> fd[] -> file -> socket -> sk */ \
	X(task_files, task_struct, files)                               \
	X(files_fdt, files_struct, fdt)                                 \
	X(fdt_max_fds, fdtable, max_fds)                                \
	X(fdt_fd, fdtable, fd)                                          \
	X(file_private_data, file, private_data)                        \
	X(socket_sk, socket, sk)

enum nt_field {
#define NT_FIELD_ENUM(name, st, path) NT_OFF_##name,
	NT_FIELDS(NT_FIELD_ENUM)
#undef NT_FIELD_ENUM
	NT_OFF__COUNT
};

/* nt_offsets.have: parts of the data path that could be set up */
#define NT_HAVE_V6 (1u << 0)		/* IPv6 addresses guessed */
#define NT_HAVE_RTT (1u << 1)		/* srtt_us and mdev_us guessed */
#define NT_HAVE_FDWALK (1u << 2)	/* accept syscall exit can find the socket */
#define NT_HAVE_PROT (1u << 3)		/* sock_prot and the tcp_prot addresses known */

struct nt_offsets {
	__u32 off[NT_OFF__COUNT];
	__u32 have;		/* NT_HAVE_* */
	__u32 pad0;
	__u64 tcp_prot;		/* &tcp_prot, &tcpv6_prot: the protocol check of raw_tp/kprobe */
	__u64 tcpv6_prot;
};

#endif /* NT_OFFSETS_H */

/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * The guesser's window into the kernel (the nettracer_guess BPF object): the state
 * changes of its own test connections, with the socket addresses, and copies of
 * kernel memory at addresses it names.
 */
#ifndef NT_GUESS_KMEM_H
#define NT_GUESS_KMEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nt_guess_abi.h"

struct nt_kmem;

/* Load and attach; captures are kept for connections matching cfg (ports and
 * addresses; cfg->tgid is filled in). use_trigger forces the syscall trigger for peeks
 * even where BPF_PROG_TEST_RUN works. */
int nt_kmem_open(struct nt_kmem **out, const struct nt_guess_config *cfg, bool use_trigger,
		 char *err, size_t len);
void nt_kmem_close(struct nt_kmem *k);

/* Wait up to timeout_ms for the state change to newstate of the connection from
 * (saddr, sport) to (daddr, dport) (16-byte addresses, IPv4 in the first 4), and give
 * its socket address: 0, -ETIMEDOUT, or -EEXIST when two sockets match (the same
 * tuple in another namespace: the caller tries other ports). */
int nt_kmem_wait_capture(struct nt_kmem *k, int family, const uint8_t *saddr, uint16_t sport,
			 const uint8_t *daddr, uint16_t dport, int newstate, int timeout_ms,
			 uint64_t *sk);

/* Copy len bytes of kernel memory at addr; 0 or -errno (-EFAULT: not readable). */
int nt_kmem_read(struct nt_kmem *k, uint64_t addr, void *buf, size_t len);
/* The task_struct of the calling thread. */
uint64_t nt_kmem_current_task(struct nt_kmem *k);
/* "test_run" or "trigger", and which tracepoint captures */
const char *nt_kmem_peek_via(const struct nt_kmem *k);
const char *nt_kmem_capture_via(const struct nt_kmem *k);
/* peeks done so far */
uint64_t nt_kmem_peeks(const struct nt_kmem *k);

#endif

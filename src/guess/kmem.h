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

/* Load and attach; captures are kept for connections with a port in [port_lo, port_hi].
 * use_trigger forces the syscall trigger for peeks even where BPF_PROG_TEST_RUN works. */
int nt_kmem_open(struct nt_kmem **out, uint16_t port_lo, uint16_t port_hi, bool use_trigger,
		 char *err, size_t len);
void nt_kmem_close(struct nt_kmem *k);

/* Wait up to timeout_ms for the capture matching (sport, dport, newstate); its socket
 * address, or 0. */
uint64_t nt_kmem_wait_capture(struct nt_kmem *k, uint16_t sport, uint16_t dport, int newstate,
			      int timeout_ms);

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

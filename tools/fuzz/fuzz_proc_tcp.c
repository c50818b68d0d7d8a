// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * nt_proc_parse_tcp_line(): the input is one control byte (bit 0: family 4 or 6),
 * then the text of a /proc/net/tcp or tcp6 file, cut into lines the way parse_table()
 * reads it (fgets into 512 bytes); each line in a buffer of its exact size. Checked
 * besides memory safety, for every line parsed:
 *   - family, pid and fd as documented, nothing else set but what the line holds;
 *   - the local address is the one an independent decoder reads from the line;
 *   - the local port and the state are the numbers written in the line, read again
 *     into 64 bits (a value that only fits after truncation must not pass the range
 *     checks).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "existing.h"
#include "fuzz_util.h"

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

/* The local address of a line that parsed, decoded by hand: the hex run after "N:". */
static void reference_addr(const char *line, int family, uint8_t laddr[16])
{
	const char *p = strchr(line, ':') + 1;	/* sscanf matched " %*d:" */
	int words = family == 4 ? 1 : 4;

	memset(laddr, 0, 16);
	while (isspace((unsigned char)*p))
		p++;
	for (int w = 0; w < words; w++) {
		uint32_t v = 0;

		for (int i = 0; i < 8; i++)
			v = v << 4 | (uint32_t)hexval(*p++);
		memcpy(laddr + 4 * w, &v, 4);
	}
}

static void check_line(const char *line, int family)
{
	struct nt_proc_sock s;
	unsigned long long port, state;
	uint8_t laddr[16];

	memset(&s, 0xa5, sizeof(s));
	if (nt_proc_parse_tcp_line(line, family, &s))
		return;
	FUZZ_CHECK(s.family == family, "family %u, asked for %d", s.family, family);
	FUZZ_CHECK(s.pid == -1 && s.fd == -1, "pid %d fd %d", s.pid, s.fd);
	FUZZ_CHECK(s.netns == 0, "netns set");
	for (size_t i = 0; i < sizeof(s.comm); i++)
		FUZZ_CHECK(!s.comm[i], "comm set");
	reference_addr(line, family, laddr);
	FUZZ_CHECK(!memcmp(s.laddr, laddr, sizeof(laddr)), "local address differs");
	/* the same fields read into 64 bits: what the line really says */
	FUZZ_CHECK(sscanf(line, " %*d: %*[0-9A-Fa-f]:%llx %*[0-9A-Fa-f]:%*x %llx", &port,
			  &state) == 2,
		   "the reference cannot read the port and state");
	FUZZ_CHECK(port == s.lport, "local port %llx accepted as %x", port, s.lport);
	FUZZ_CHECK(state == s.state, "state %llx accepted as %x", state, s.state);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	int family = fuzz_u8(&in) & 1 ? 6 : 4;
	size_t pos = 0, n;

	while ((n = fuzz_fgets_chunk(in.p, in.n, &pos, 512))) {
		char *line = fuzz_strndup(in.p + pos - n, n);

		check_line(line, family);
		free(line);
	}
	return 0;
}

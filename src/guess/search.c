// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#include "search.h"

#include <string.h>

uint64_t nt_load_uint(const uint8_t *p, size_t width)
{
	uint8_t b1;
	uint16_t b2;
	uint32_t b4;
	uint64_t b8;

	switch (width) {
	case 1:
		memcpy(&b1, p, 1);
		return b1;
	case 2:
		memcpy(&b2, p, 2);
		return b2;
	case 4:
		memcpy(&b4, p, 4);
		return b4;
	default:
		memcpy(&b8, p, 8);
		return b8;
	}
}

bool nt_is_kernel_ptr(uint64_t v)
{
	/* x86_64, arm64 and the other 64-bit ports put the kernel in the top half; the last
	 * pages are ERR_PTR values, not objects */
	return (v >> 63) && v < (uint64_t)-4096;
}

size_t nt_search(const struct nt_image *images, size_t n, size_t width, size_t align, size_t from,
		 size_t to, nt_match_fn match, void *ctx, size_t *out, size_t max_out)
{
	size_t found = 0, off, i;

	if (!align)
		align = 1;
	from = (from + align - 1) / align * align;
	for (off = from; off < to; off += align) {
		for (i = 0; i < n; i++)
			if (off + width > images[i].len || !match(i, images[i].data + off, ctx))
				break;
		if (i < n)
			continue;
		if (found < max_out)
			out[found] = off;
		found++;
	}
	return found;
}

struct eq_ctx {
	const void *const *want;
	size_t width;
};

static bool match_eq(size_t i, const uint8_t *field, void *ctx)
{
	const struct eq_ctx *c = ctx;

	return !memcmp(field, c->want[i], c->width);
}

size_t nt_search_eq(const struct nt_image *images, size_t n, const void *const *want,
		    size_t width, size_t align, size_t from, size_t to, size_t *out,
		    size_t max_out)
{
	struct eq_ctx c = { want, width };

	return nt_search(images, n, width, align, from, to, match_eq, &c, out, max_out);
}

struct uint_ctx {
	const uint64_t *want;
	size_t width;
	unsigned int shift;
};

static bool match_uint(size_t i, const uint8_t *field, void *ctx)
{
	const struct uint_ctx *c = ctx;

	return (nt_load_uint(field, c->width) >> c->shift) == c->want[i];
}

size_t nt_search_uint(const struct nt_image *images, size_t n, const uint64_t *want, size_t width,
		      unsigned int shift, size_t from, size_t to, size_t *out, size_t max_out)
{
	struct uint_ctx c = { want, width, shift };

	/* fields are naturally aligned */
	return nt_search(images, n, width, width, from, to, match_uint, &c, out, max_out);
}

/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * Snapshot and search: find where a field lives by copying whole struct images
 * once and searching them in user space for the values the guesser knows, instead
 * of one kernel round trip per candidate offset. Pure functions: the unit tests
 * run them on synthetic images with known layouts.
 */
#ifndef NT_GUESS_SEARCH_H
#define NT_GUESS_SEARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One copy of a kernel object, taken at one moment. */
struct nt_image {
	const uint8_t *data;
	size_t len;
};

/* Does the field (width bytes at some offset) of image i hold what is expected? */
typedef bool (*nt_match_fn)(size_t i, const uint8_t *field, void *ctx);

/*
 * Offsets off = from, from+align, ... < to such that, for every image i,
 * off + width <= images[i].len and match(i, images[i].data + off, ctx).
 * Stores up to max_out of them in out; returns how many there are.
 */
size_t nt_search(const struct nt_image *images, size_t n, size_t width, size_t align, size_t from,
		 size_t to, nt_match_fn match, void *ctx, size_t *out, size_t max_out);

/* The usual predicate: image i holds exactly want[i] (width bytes). */
size_t nt_search_eq(const struct nt_image *images, size_t n, const void *const *want,
		    size_t width, size_t align, size_t from, size_t to, size_t *out,
		    size_t max_out);

/* An unsigned width-byte field (1, 2, 4 or 8) of native byte order, shifted right by
 * shift, equals want[i] in image i. (srtt_us >> 3 == tcpi_rtt.) */
size_t nt_search_uint(const struct nt_image *images, size_t n, const uint64_t *want, size_t width,
		      unsigned int shift, size_t from, size_t to, size_t *out, size_t max_out);

/* Load an unsigned native-order integer of width bytes. */
uint64_t nt_load_uint(const uint8_t *p, size_t width);

/* Does this 64-bit value look like a kernel address (upper half of the address space)? */
bool nt_is_kernel_ptr(uint64_t v);

#endif

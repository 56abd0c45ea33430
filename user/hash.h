/* SPDX-License-Identifier: MIT */
/* One 64-bit mixer for the daemon's hash tables (MurmurHash3's finalizer). */
#ifndef WT_HASH_H
#define WT_HASH_H

#include <stdint.h>

/* Every input bit affects every output bit: kernel pointers and FNV sums alike. */
static inline uint64_t wt_mix64(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return h;
}

#endif /* WT_HASH_H */

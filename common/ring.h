/* Channel ownership: rendezvous (highest-random-weight) hashing over the live routers.
 *
 * The owner of a channel is the member whose weight  mix64(fnv1a64(member) ^
 * mix64(fnv1a64(channel))) is highest (ties, which need a 64-bit collision, go to the smaller id by
 * strcmp). This is a contract between every node of a cluster and is pinned by golden vectors in
 * the unit tests: fnv1a64: offset basis 0xcbf29ce484222325, prime 0x100000001b3, over the bytes of
 * the string; mix64:   the SplitMix64 finaliser (xor-shift 30, * 0xbf58476d1ce4e5b9, xor-shift 27,
 *            * 0x94d049bb133111eb, xor-shift 31).
 * Rendezvous hashing gives every member an equal expected share and moves only the channels of a
 * member that leaves (or 1/N of them to one that joins), with no virtual nodes to tune. A lookup
 * is O(members), which is small (routers, not gateways). */
#ifndef BF_RING_H
#define BF_RING_H

#include <stddef.h>
#include <stdint.h>

typedef struct bf_ring bf_ring;

/* Returns an empty ring; caller frees with bf_ring_free. Never NULL (aborts on OOM). */
bf_ring *bf_ring_new(void);
void bf_ring_free(bf_ring *r);

/* Replaces the member set (ids are copied) and records the epoch the set belongs to. Returns 0. */
int bf_ring_set(bf_ring *r, const char *const *ids, size_t n, uint64_t epoch);

/* The owner of the channel, or NULL for an empty ring. Borrowed: valid until the next bf_ring_set.
 */
const char *bf_ring_owner(const bf_ring *r, const char *channel, size_t len);

size_t bf_ring_size(const bf_ring *r);
uint64_t bf_ring_epoch(const bf_ring *r);
/* Member i (0 <= i < size) in sorted order; borrowed like bf_ring_owner. */
const char *bf_ring_member(const bf_ring *r, size_t i);

uint64_t bf_ring_fnv1a64(const char *s, size_t len);
uint64_t bf_ring_mix64(uint64_t x);

#endif

#include "ring.h"
#include "alloc.h"

#include <stdlib.h>
#include <string.h>

typedef struct member {
    char *id;
    uint64_t h; /* fnv1a64(id), precomputed */
} member;

struct bf_ring {
    member *m;
    size_t n;
    uint64_t epoch;
};

uint64_t bf_ring_fnv1a64(const char *s, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

uint64_t bf_ring_mix64(uint64_t x)
{
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

bf_ring *bf_ring_new(void)
{
    return bf_calloc(1, sizeof(bf_ring));
}

static void clear(bf_ring *r)
{
    for (size_t i = 0; i < r->n; i++) free(r->m[i].id);
    free(r->m);
    r->m = NULL;
    r->n = 0;
}

void bf_ring_free(bf_ring *r)
{
    if (!r) return;
    clear(r);
    free(r);
}

static int cmp_member(const void *a, const void *b)
{
    return strcmp(((const member *)a)->id, ((const member *)b)->id);
}

int bf_ring_set(bf_ring *r, const char *const *ids, size_t n, uint64_t epoch)
{
    clear(r);
    r->m = bf_calloc(n ? n : 1, sizeof(member));
    for (size_t i = 0; i < n; i++) {
        r->m[i].id = bf_strdup(ids[i]);
        r->m[i].h = bf_ring_fnv1a64(ids[i], strlen(ids[i]));
    }
    r->n = n;
    qsort(r->m, n, sizeof(member), cmp_member);
    r->epoch = epoch;
    return 0;
}

const char *bf_ring_owner(const bf_ring *r, const char *channel, size_t len)
{
    if (r->n == 0) return NULL;
    uint64_t ch = bf_ring_mix64(bf_ring_fnv1a64(channel, len));
    size_t best = 0;
    uint64_t best_w = bf_ring_mix64(r->m[0].h ^ ch);
    for (size_t i = 1; i < r->n; i++) {
        uint64_t w = bf_ring_mix64(r->m[i].h ^ ch);
        if (w > best_w) { /* members are sorted, so '>' keeps the smaller id on a tie */
            best_w = w;
            best = i;
        }
    }
    return r->m[best].id;
}

size_t bf_ring_size(const bf_ring *r)
{
    return r->n;
}

uint64_t bf_ring_epoch(const bf_ring *r)
{
    return r->epoch;
}

const char *bf_ring_member(const bf_ring *r, size_t i)
{
    return i < r->n ? r->m[i].id : NULL;
}

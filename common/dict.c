#include "dict.h"
#include "alloc.h"
#include "ring.h"

#include <stdlib.h>
#include <string.h>

typedef struct entry {
    struct entry *next;
    void *val;
    size_t len;
    char key[]; /* NUL-terminated copy */
} entry;

struct bf_dict {
    entry **b;
    size_t mask, n;
};

bf_dict *bf_dict_new(void)
{
    bf_dict *d = bf_calloc(1, sizeof(*d));
    d->mask = 15;
    d->b = bf_calloc(d->mask + 1, sizeof(entry *));
    return d;
}

void bf_dict_free(bf_dict *d)
{
    if (!d) return;
    for (size_t i = 0; i <= d->mask; i++) {
        entry *e = d->b[i];
        while (e) {
            entry *nx = e->next;
            free(e);
            e = nx;
        }
    }
    free(d->b);
    free(d);
}

static size_t slot(const bf_dict *d, const char *k, size_t len)
{
    return (size_t)bf_ring_fnv1a64(k, len) & d->mask;
}

static entry **find(const bf_dict *d, const char *k, size_t len)
{
    entry **pp = &d->b[slot(d, k, len)];
    for (; *pp; pp = &(*pp)->next)
        if ((*pp)->len == len && !memcmp((*pp)->key, k, len)) return pp;
    return pp;
}

void *bf_dict_get(const bf_dict *d, const char *key, size_t len)
{
    entry **pp = find(d, key, len);
    return *pp ? (*pp)->val : NULL;
}

static void grow(bf_dict *d)
{
    size_t nm = d->mask * 2 + 1;
    entry **nb = bf_calloc(nm + 1, sizeof(entry *));
    for (size_t i = 0; i <= d->mask; i++) {
        entry *e = d->b[i];
        while (e) {
            entry *nx = e->next;
            size_t s = (size_t)bf_ring_fnv1a64(e->key, e->len) & nm;
            e->next = nb[s];
            nb[s] = e;
            e = nx;
        }
    }
    free(d->b);
    d->b = nb;
    d->mask = nm;
}

void *bf_dict_put(bf_dict *d, const char *key, size_t len, void *val)
{
    entry **pp = find(d, key, len);
    if (*pp) {
        void *old = (*pp)->val;
        (*pp)->val = val;
        return old;
    }
    entry *e = bf_malloc(sizeof(entry) + len + 1);
    memcpy(e->key, key, len);
    e->key[len] = '\0';
    e->len = len;
    e->val = val;
    e->next = NULL;
    *pp = e;
    if (++d->n > d->mask + 1) grow(d);
    return NULL;
}

void *bf_dict_del(bf_dict *d, const char *key, size_t len)
{
    entry **pp = find(d, key, len);
    if (!*pp) return NULL;
    entry *e = *pp;
    void *v = e->val;
    *pp = e->next;
    free(e);
    d->n--;
    return v;
}

size_t bf_dict_size(const bf_dict *d)
{
    return d->n;
}

void bf_dict_foreach(bf_dict *d, int (*fn)(const char *key, void *val, void *arg), void *arg)
{
    for (size_t i = 0; i <= d->mask; i++) {
        entry **pp = &d->b[i];
        while (*pp) {
            entry *e = *pp;
            if (fn(e->key, e->val, arg) == 1) {
                *pp = e->next;
                free(e);
                d->n--;
            } else {
                pp = &e->next;
            }
        }
    }
}

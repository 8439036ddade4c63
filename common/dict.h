/* A string-keyed hash table (separate chaining, power-of-two buckets, grows at load factor 1).
 * Keys are copied; values are borrowed pointers the caller owns. Iteration order is unspecified;
 * deleting the current entry during bf_dict_foreach is allowed (the callback returns 1 to delete).
 */
#ifndef BF_DICT_H
#define BF_DICT_H

#include <stddef.h>

typedef struct bf_dict bf_dict;

bf_dict *bf_dict_new(void);    /* caller frees with bf_dict_free; never NULL */
void bf_dict_free(bf_dict *d); /* frees keys and the table, not values */

void *bf_dict_get(const bf_dict *d, const char *key, size_t len);
/* Inserts or replaces; returns the previous value or NULL. */
void *bf_dict_put(bf_dict *d, const char *key, size_t len, void *val);
/* Removes key; returns its value or NULL. */
void *bf_dict_del(bf_dict *d, const char *key, size_t len);
size_t bf_dict_size(const bf_dict *d);

/* Calls fn(key, val, arg) for each entry; if fn returns 1 the entry is removed. key is borrowed
 * and valid only during the call. */
void bf_dict_foreach(bf_dict *d, int (*fn)(const char *key, void *val, void *arg), void *arg);

#endif

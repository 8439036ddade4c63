/* Allocation for the daemons.
 *
 * bf_malloc and friends abort with file:line on out-of-memory, so that daemon call sites stay free
 * of impossible-to-test error paths (the same policy as Redis' zmalloc and h2o_mem_alloc). Library
 * code under client/ never uses these: it returns BF_ENOMEM instead. */
#ifndef BF_ALLOC_H
#define BF_ALLOC_H

#include <stddef.h>

#define bf_malloc(n) bf__malloc((n), __FILE__, __LINE__)
#define bf_calloc(n, m) bf__calloc((n), (m), __FILE__, __LINE__)
#define bf_realloc(p, n) bf__realloc((p), (n), __FILE__, __LINE__)
#define bf_strdup(s) bf__strdup((s), __FILE__, __LINE__)
#define bf_strndup(s, n) bf__strndup((s), (n), __FILE__, __LINE__)

/* Makes jansson allocate through bf_malloc (json_set_alloc_funcs), so one out-of-memory policy
 * holds in the daemons: jansson would otherwise return NULL from json_dumps, json_pack, ... and
 * every call site would need its own OOM path. Call once at the start of main(), before any json_t
 * exists. Not for client/ (its policy is BF_ENOMEM) nor for processes that host it. */
void bf_alloc_init(void);

/* All return memory the caller frees with free(); they never return NULL. */
void *bf__malloc(size_t n, const char *file, int line);
void *bf__calloc(size_t n, size_t m, const char *file, int line);
void *bf__realloc(void *p, size_t n, const char *file, int line);
char *bf__strdup(const char *s, const char *file, int line);
char *bf__strndup(const char *s, size_t n, const char *file, int line);

#endif

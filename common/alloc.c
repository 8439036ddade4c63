#include "alloc.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void oom(size_t n, const char *file, int line)
{
    fprintf(stderr, "belfry: out of memory allocating %zu bytes at %s:%d\n", n, file, line);
    abort();
}

void *bf__malloc(size_t n, const char *file, int line)
{
    void *p = malloc(n ? n : 1);
    if (!p) oom(n, file, line);
    return p;
}

void *bf__calloc(size_t n, size_t m, const char *file, int line)
{
    void *p = calloc(n ? n : 1, m ? m : 1);
    if (!p) oom(n * m, file, line);
    return p;
}

void *bf__realloc(void *p, size_t n, const char *file, int line)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) oom(n, file, line);
    return q;
}

char *bf__strndup(const char *s, size_t n, const char *file, int line)
{
    char *p = bf__malloc(n + 1, file, line);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *bf__strdup(const char *s, const char *file, int line)
{
    return bf__strndup(s, strlen(s), file, line);
}

/* jansson's malloc: the file:line in the abort message says who asked */
static void *json_malloc(size_t n)
{
    return bf__malloc(n, "jansson", 0);
}

void bf_alloc_init(void)
{
    json_set_alloc_funcs(json_malloc, free);
}

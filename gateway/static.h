/* Files the gateway serves over plain HTTP: the demo page at "/" and the browser client at
 * "/belfry.js" (client/demo/index.html and client/js/belfry.js, embedded at build time). */
#ifndef BF_STATIC_H
#define BF_STATIC_H

#include <stddef.h>

typedef struct bf_static_file {
    const char *data; /* static storage */
    size_t len;
    const char *content_type;
} bf_static_file;

/* The file served at path, or NULL. */
const bf_static_file *bf_static_lookup(const char *path);

#endif

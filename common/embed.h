/* Files embedded at build time (cmake/embed.cmake): the Lua scripts in common/lua, and the
 * browser client and demo page the gateway serves. */
#ifndef BF_EMBED_H
#define BF_EMBED_H

#include <stddef.h>

typedef struct bf_embed_file {
    const char *name; /* path relative to the embedded directory, e.g. "publish.lua" */
    const char *data; /* NUL-terminated contents (static) */
    size_t len;
} bf_embed_file;

/* The Lua scripts (common/lua/<name>.lua). */
extern const bf_embed_file bf_lua_files[];
extern const size_t bf_lua_count;

/* The file called name in table[0..n), or NULL. Static storage. */
const bf_embed_file *bf_embed_find(const bf_embed_file *table, size_t n, const char *name);

#endif

/* Files embedded at build time (cmake/embed.cmake): the Lua scripts in common/lua. */
#ifndef BF_EMBED_H
#define BF_EMBED_H

#include <stddef.h>

typedef struct bf_embed_file {
    const char *name; /* file name without extension, e.g. "publish" */
    const char *data; /* NUL-terminated contents (static) */
    size_t len;
} bf_embed_file;

extern const bf_embed_file bf_embed_files[];
extern const size_t bf_embed_count;

/* The embedded file called name, or NULL. */
const bf_embed_file *bf_embed_find(const char *name);

#endif

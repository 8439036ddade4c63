#include "static.h"
#include "embed.h"

#include <string.h>

extern const bf_embed_file bf_web_files[];
extern const size_t bf_web_count;

static const struct route {
    const char *path, *file, *type;
} routes[] = {
    {"/", "demo/index.html", "text/html; charset=utf-8"},
    {"/index.html", "demo/index.html", "text/html; charset=utf-8"},
    {"/belfry.js", "js/belfry.js", "text/javascript; charset=utf-8"},
};

const bf_static_file *bf_static_lookup(const char *path)
{
    static bf_static_file files[sizeof(routes) / sizeof(*routes)];
    for (size_t i = 0; i < sizeof(routes) / sizeof(*routes); i++) {
        if (strcmp(path, routes[i].path)) continue;
        if (!files[i].data) {
            const bf_embed_file *f = bf_embed_find(bf_web_files, bf_web_count, routes[i].file);
            if (!f) return NULL;
            files[i] = (bf_static_file){f->data, f->len, routes[i].type};
        }
        return &files[i];
    }
    return NULL;
}

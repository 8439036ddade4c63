#include "apps.h"

#include "alloc.h"
#include "err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct bf_apps {
    bf_app *v;
    size_t n, cap;
    bf_app implicit;
};

bf_apps *bf_apps_new(void)
{
    bf_apps *a = bf_calloc(1, sizeof(*a));
    a->implicit = (bf_app){.id = "default", .key = "", .secret = "", .implicit = true};
    return a;
}

void bf_apps_clear(bf_apps *a)
{
    for (size_t i = 0; i < a->n; i++) {
        /* id, key and secret share one allocation that starts at id */
        free((char *)a->v[i].id);
    }
    a->n = 0;
}

void bf_apps_free(bf_apps *a)
{
    if (!a) return;
    bf_apps_clear(a);
    free(a->v);
    free(a);
}

static bool id_byte(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

/* Validates one "ID:KEY:SECRET" entry of length len and appends it. */
static int add_one(bf_apps *a, const char *s, size_t len, char *err, size_t errlen)
{
    const char *c1 = memchr(s, ':', len);
    const char *c2 = c1 ? memchr(c1 + 1, ':', len - (size_t)(c1 + 1 - s)) : NULL;
    if (!c1 || !c2) {
        snprintf(err, errlen, "app '%.*s': expected ID:KEY:SECRET", (int)len, s);
        return BF_EINVAL;
    }
    size_t il = (size_t)(c1 - s), kl = (size_t)(c2 - c1 - 1), sl = len - (size_t)(c2 + 1 - s);
    if (il == 0 || il > BF_APP_ID_MAX) {
        snprintf(err, errlen, "app '%.*s': the id must be 1-%d bytes", (int)il, s, BF_APP_ID_MAX);
        return BF_EINVAL;
    }
    for (size_t i = 0; i < il; i++)
        if (!id_byte((unsigned char)s[i])) {
            snprintf(err, errlen, "app '%.*s': the id may use only A-Z a-z 0-9 _ -", (int)il, s);
            return BF_EINVAL;
        }
    if (kl == 0 || kl > BF_APP_KEY_MAX) {
        snprintf(err, errlen, "app '%.*s': the key must be 1-%d bytes", (int)il, s, BF_APP_KEY_MAX);
        return BF_EINVAL;
    }
    for (size_t i = 0; i < kl; i++)
        if (!id_byte((unsigned char)c1[1 + i]) && c1[1 + i] != '.') {
            snprintf(err, errlen, "app '%.*s': the key may use only A-Z a-z 0-9 _ - .", (int)il, s);
            return BF_EINVAL;
        }
    if (sl == 0 || sl > BF_APP_SECRET_MAX) {
        snprintf(err, errlen, "app '%.*s': the secret must be 1-%d bytes", (int)il, s,
                 BF_APP_SECRET_MAX);
        return BF_EINVAL;
    }
    if (bf_apps_by_id(a, s, il)) {
        snprintf(err, errlen, "app '%.*s' is given twice", (int)il, s);
        return BF_EINVAL;
    }
    if (bf_apps_by_key(a, c1 + 1, kl)) {
        snprintf(err, errlen, "app '%.*s': key '%.*s' belongs to another app", (int)il, s, (int)kl,
                 c1 + 1);
        return BF_EINVAL;
    }
    if (a->n == a->cap) {
        a->cap = a->cap ? 2 * a->cap : 4;
        a->v = bf_realloc(a->v, a->cap * sizeof(*a->v));
    }
    /* one allocation: "id\0key\0secret\0" */
    char *buf = bf_malloc(il + kl + sl + 3);
    memcpy(buf, s, il);
    buf[il] = '\0';
    memcpy(buf + il + 1, c1 + 1, kl);
    buf[il + 1 + kl] = '\0';
    memcpy(buf + il + kl + 2, c2 + 1, sl);
    buf[il + kl + 2 + sl] = '\0';
    a->v[a->n++] =
        (bf_app){.id = buf, .key = buf + il + 1, .secret = buf + il + kl + 2, .secret_len = sl};
    return 0;
}

int bf_apps_add(bf_apps *a, const char *spec, char *err, size_t errlen)
{
    size_t before = a->n;
    const char *p = spec;
    for (;;) {
        size_t l = strcspn(p, ",");
        int rc = l ? add_one(a, p, l, err, errlen) : 0;
        if (!l && !p[l] && p == spec) {
            snprintf(err, errlen, "empty app list (expected ID:KEY:SECRET[,...])");
            rc = BF_EINVAL;
        }
        if (rc) {
            while (a->n > before) free((char *)a->v[--a->n].id);
            return rc;
        }
        if (!p[l]) break;
        p += l + 1;
    }
    return 0;
}

size_t bf_apps_count(const bf_apps *a)
{
    return a->n;
}

const bf_app *bf_apps_at(const bf_apps *a, size_t i)
{
    return i < a->n ? &a->v[i] : NULL;
}

const bf_app *bf_apps_default(const bf_apps *a)
{
    return a->n ? &a->v[0] : &a->implicit;
}

static bool eq(const char *z, const char *p, size_t len)
{
    return strlen(z) == len && memcmp(z, p, len) == 0;
}

const bf_app *bf_apps_by_id(const bf_apps *a, const char *id, size_t len)
{
    for (size_t i = 0; i < a->n; i++)
        if (eq(a->v[i].id, id, len)) return &a->v[i];
    if (!a->n && eq(a->implicit.id, id, len)) return &a->implicit;
    return NULL;
}

const bf_app *bf_apps_by_key(const bf_apps *a, const char *key, size_t len)
{
    for (size_t i = 0; i < a->n; i++)
        if (eq(a->v[i].key, key, len)) return &a->v[i];
    return NULL;
}

int bf_apps_scope(const bf_apps *a, const bf_app *app, const char *name, size_t len, char *out,
                  size_t cap)
{
    if (app == bf_apps_default(a)) {
        if (len + 1 > cap) return BF_ERANGE;
        memcpy(out, name, len);
        out[len] = '\0';
        return 0;
    }
    size_t il = strlen(app->id);
    if (il + 1 + len + 1 > cap) return BF_ERANGE;
    memcpy(out, app->id, il);
    out[il] = BF_APP_SCOPE_SEP;
    memcpy(out + il + 1, name, len);
    out[il + 1 + len] = '\0';
    return 0;
}

const bf_app *bf_apps_unscope(const bf_apps *a, const char *scoped, const char **name)
{
    const char *sep = strchr(scoped, BF_APP_SCOPE_SEP);
    if (!sep) {
        *name = scoped;
        return bf_apps_default(a);
    }
    *name = sep + 1;
    const bf_app *app = bf_apps_by_id(a, scoped, (size_t)(sep - scoped));
    /* the default app's channels are never scoped: "DEFAULTID/x" names nothing */
    return app == bf_apps_default(a) ? NULL : app;
}

/* Fuzzes bf_config_parse with the real gateway and router tables, and bf_parse_hostport /
 * bf_parse_redis_url on their own (common/config.h): flags and BELFRY_* values an operator (or a
 * deployment template) passes in.
 * Input layout: argv elements separated by '\n'. Properties: a successful parse leaves every INT
 * within its bounds, every STRING with choices on one of them, ports in range and host/password
 * strings terminated; a refusal returns a negative code with a one-line message. */
#include "apps.h"
#include "config.h"
#include "fuzz_util.h"
#include "gw_config.h"
#include "rt_config.h"

#include <stdbool.h>

static bool in_choices(const char *choices, const char *v)
{
    size_t vl = strlen(v);
    for (const char *p = choices; *p;) {
        size_t l = strcspn(p, "|");
        if (l == vl && !strncmp(p, v, l)) return true;
        p += l + (p[l] == '|');
    }
    return false;
}

static void check_hostport(const bf_hostport *h)
{
    FZ_CHECK(memchr(h->host, 0, sizeof(h->host)) && h->host[0], "host empty or unterminated");
    FZ_CHECK(h->port >= 0 && h->port <= 65535, "port %d", h->port);
}

static void check_redis(const bf_redis_url *r)
{
    FZ_CHECK(memchr(r->host, 0, sizeof(r->host)) && r->host[0], "host empty or unterminated");
    FZ_CHECK(memchr(r->password, 0, sizeof(r->password)), "password unterminated");
    FZ_CHECK(r->port >= 1 && r->port <= 65535, "port %d", r->port);
    FZ_CHECK(r->db >= 0 && r->db <= 65535, "db %d", r->db);
    FZ_CHECK(r->nseeds >= 0 && r->nseeds <= BF_REDIS_SEEDS_MAX, "nseeds %d", r->nseeds);
    FZ_CHECK((r->kind == BF_REDIS_URL_CLUSTER) == (r->nseeds > 0), "seeds outside cluster://");
    for (int i = 0; i < r->nseeds; i++)
        FZ_CHECK(r->seeds[i].host[0] && r->seeds[i].port >= 1 && r->seeds[i].port <= 65535,
                 "seed %d", i);
}

static void check_parse(const bf_cfg_opt *table, void *cfg, int rc, const char *err);

/* bf_config_parse creates every BF_CFG_APPS list and fills BF_CFG_LIST values whatever it
 * returns; the caller frees them. */
static void parse_with(const bf_cfg_opt *table, void *cfg, int argc, char **argv)
{
    char err[256];
    err[0] = '\0';
    int rc = bf_config_parse(table, cfg, argc, argv, err, sizeof(err));
    check_parse(table, cfg, rc, err);
    for (const bf_cfg_opt *o = table; o->name; o++) {
        if (o->type == BF_CFG_LIST) { /* --webhook values: copies the list owns */
            bf_strlist_clear((bf_strlist *)((char *)cfg + o->offset));
            continue;
        }
        if (o->type != BF_CFG_APPS) continue;
        bf_apps *apps;
        memcpy(&apps, (char *)cfg + o->offset, sizeof(apps));
        bf_apps_free(apps);
    }
}

static void check_parse(const bf_cfg_opt *table, void *cfg, int rc, const char *err)
{
    if (rc < 0) {
        FZ_CHECK(err[0] && !strchr(err, '\n'), "refused without a one-line message: '%s'", err);
        return;
    }
    FZ_CHECK(rc == BF_CFG_OK || rc == BF_CFG_HELP || rc == BF_CFG_VERSION, "rc %d", rc);
    if (rc != BF_CFG_OK) return;
    for (const bf_cfg_opt *o = table; o->name; o++) {
        const char *field = (const char *)cfg + o->offset;
        switch (o->type) {
        case BF_CFG_INT: {
            long long v;
            memcpy(&v, field, sizeof(v));
            FZ_CHECK(v >= o->min && v <= o->max, "--%s = %lld outside [%lld, %lld]", o->name, v,
                     o->min, o->max);
            break;
        }
        case BF_CFG_STRING:
        case BF_CFG_NAME:
        case BF_CFG_PREFIX: {
            const char *v;
            memcpy(&v, field, sizeof(v));
            if (o->choices && v)
                FZ_CHECK(in_choices(o->choices, v), "--%s = '%s' not in %s", o->name, v,
                         o->choices);
            if (o->max > 0 && v && (*v || o->def))
                FZ_CHECK((long long)strlen(v) >= o->min && (long long)strlen(v) <= o->max,
                         "--%s: length %zu outside [%lld, %lld]", o->name, strlen(v), o->min,
                         o->max);
            if (o->type == BF_CFG_NAME && v) FZ_CHECK(!strchr(v, '/'), "--%s has a '/'", o->name);
            if (o->type == BF_CFG_PREFIX && v)
                FZ_CHECK(!strpbrk(v, "{}"), "--%s has a brace (a Redis hash tag)", o->name);
            break;
        }
        case BF_CFG_HOSTPORT:
            check_hostport((const bf_hostport *)field);
            if (o->max > 0)
                FZ_CHECK(((const bf_hostport *)field)->port >= o->min &&
                             ((const bf_hostport *)field)->port <= o->max,
                         "--%s: port outside its row's bounds", o->name);
            break;
        case BF_CFG_REDIS:
            check_redis((const bf_redis_url *)field);
            break;
        case BF_CFG_LIST: /* copies of what was given; nothing to bound */
            break;
        case BF_CFG_APPS: {
            bf_apps *apps;
            memcpy(&apps, field, sizeof(apps));
            FZ_CHECK(apps != NULL, "--%s: no list after a successful parse", o->name);
            for (size_t i = 0; i < bf_apps_count(apps); i++) {
                const bf_app *a = bf_apps_at(apps, i);
                FZ_CHECK(*a->id && *a->key && a->secret_len == strlen(a->secret),
                         "--%s: app %zu has an empty id/key or a secret with a NUL", o->name, i);
                FZ_CHECK(bf_apps_by_key(apps, a->key, strlen(a->key)) == a, "duplicate key");
            }
            break;
        }
        case BF_CFG_BOOL:
            break;
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    if (!init) { /* the environment is an input too: keep it out of the fuzzer's way */
        for (const bf_cfg_opt *o = bf_gw_config_table; o->name; o++)
            if (o->env) unsetenv(o->env);
        for (const bf_cfg_opt *o = bf_rt_config_table; o->name; o++)
            if (o->env) unsetenv(o->env);
        init = 1;
    }
    char *text = fz_strndup(data, size);
    int argc = 1;
    for (size_t i = 0; i < size; i++) argc += data[i] == '\n';
    char **argv = calloc((size_t)argc + 2, sizeof(char *));
    argv[0] = "belfry-fuzz";
    int n = 1;
    for (char *p = text, *nl; size && p; p = nl ? nl + 1 : NULL) {
        nl = strchr(p, '\n');
        if (nl) *nl = '\0';
        argv[n++] = p;
        if (n > argc) break;
    }
    char err[256];
    for (int i = 1; i < n; i++) {
        bf_hostport hp;
        bf_redis_url ru;
        if (bf_parse_hostport(argv[i], &hp, err, sizeof(err)) == 0) check_hostport(&hp);
        if (bf_parse_redis_url(argv[i], &ru, err, sizeof(err)) == 0) check_redis(&ru);
    }
    bf_gw_config gw;
    bf_rt_config rt;
    memset(&gw, 0, sizeof(gw));
    memset(&rt, 0, sizeof(rt));
    parse_with(bf_gw_config_table, &gw, n, argv);
    parse_with(bf_rt_config_table, &rt, n, argv);
    free(argv);
    free(text);
    return 0;
}

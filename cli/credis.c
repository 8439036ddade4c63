#include "credis.h"
#include "alloc.h"
#include "cli.h"
#include "err.h"
#include "redis_keys.h"

#include "apps.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

struct bf_cli_redis {
    redisContext *ctx;
    const char *cmd;
    char where[300]; /* "redis HOST:PORT", for error lines */
    char prefix[BF_PREFIX_MAX + 1];
};

static int io_failure(bf_cli_redis *r)
{
    bf_cli_error(r->cmd, "cannot reach %s: %s", r->where,
                 r->ctx->errstr[0] ? r->ctx->errstr : "connection lost");
    return BF_CLI_UNREACHABLE;
}

/* Takes over a reply: 0 for a usable one, an exit code (reported) for none or an error reply. */
static int check(bf_cli_redis *r, redisReply *rep, redisReply **out)
{
    *out = NULL;
    if (!rep) return io_failure(r);
    if (rep->type == REDIS_REPLY_ERROR) {
        bf_cli_error(r->cmd, "%s answered: %s", r->where, rep->str);
        freeReplyObject(rep);
        return BF_CLI_FAILED;
    }
    *out = rep;
    return 0;
}

/* sentinel:// — asks the sentinels in turn for the primary and puts its address in u->host and
 * u->port (a sentinel that is down, slow or does not know the master is skipped, as the daemons
 * do). Returns 0, or -1 with the error reported. */
static int sentinel_primary(bf_redis_url *u, struct timeval tv, const char *cmd)
{
    for (int i = 0; i < u->nsentinels; i++) {
        const bf_redis_addr *a = &u->sentinels[i];
        redisContext *c = redisConnectWithTimeout(a->host, a->port, tv);
        if (!c) abort();
        redisReply *rep = NULL;
        if (!c->err) {
            redisSetTimeout(c, tv);
            if (u->password[0]) /* a sentinel without a password refuses AUTH: ignored */
                freeReplyObject(u->user[0] ? redisCommand(c, "AUTH %s %s", u->user, u->password)
                                           : redisCommand(c, "AUTH %s", u->password));
            rep = redisCommand(c, "SENTINEL get-master-addr-by-name %s", u->master);
        }
        bool ok = rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
                  rep->element[0]->type == REDIS_REPLY_STRING &&
                  rep->element[1]->type == REDIS_REPLY_STRING &&
                  strlen(rep->element[0]->str) < sizeof(u->host);
        if (ok) {
            snprintf(u->host, sizeof(u->host), "%s", rep->element[0]->str);
            u->port = atoi(rep->element[1]->str);
        }
        freeReplyObject(rep);
        redisFree(c);
        if (ok) return 0;
    }
    bf_cli_error(cmd, "no sentinel of %d named a primary for '%s'", u->nsentinels, u->master);
    return -1;
}

bf_cli_redis *bf_cli_redis_open(const bf_cli_cfg *cfg, const char *cmd, int *rc)
{
    bf_redis_url u;
    char err[BF_ERR_LEN];
    if (bf_parse_redis_url(cfg->redis, &u, err, sizeof(err))) { /* checked by args already */
        bf_cli_error(cmd, "--redis: %s", err);
        *rc = BF_CLI_USAGE;
        return NULL;
    }
    struct timeval tv = {(time_t)(cfg->timeout_ms / 1000),
                         (suseconds_t)(cfg->timeout_ms % 1000) * 1000};
    if (u.kind == BF_REDIS_URL_SENTINEL && sentinel_primary(&u, tv, cmd)) {
        *rc = BF_CLI_UNREACHABLE;
        return NULL;
    }
    bf_cli_redis *r = bf_calloc(1, sizeof(*r));
    r->cmd = cmd;
    snprintf(r->where, sizeof(r->where), "redis %s:%d", u.host, u.port);
    snprintf(r->prefix, sizeof(r->prefix), "%s", cfg->redis_prefix);
    r->ctx = redisConnectWithTimeout(u.host, u.port, tv);
    if (!r->ctx) abort(); /* hiredis returns NULL only when out of memory */
    if (r->ctx->err) {
        *rc = io_failure(r);
        goto fail;
    }
    redisSetTimeout(r->ctx, tv);
    redisReply *rep = NULL;
    if (u.password[0]) {
        /* with a user name, two arguments (an ACL user); without, Redis' `default` user */
        rep = u.user[0] ? redisCommand(r->ctx, "AUTH %s %s", u.user, u.password)
                        : redisCommand(r->ctx, "AUTH %s", u.password);
        if (rep && rep->type == REDIS_REPLY_ERROR) {
            bf_cli_error(cmd, "%s refused AUTH as user '%s': %s", r->where,
                         u.user[0] ? u.user : "default", rep->str);
            freeReplyObject(rep);
            goto refused;
        }
        if ((*rc = check(r, rep, &rep))) goto refused;
        freeReplyObject(rep);
    }
    if (u.db) {
        if ((*rc = check(r, redisCommand(r->ctx, "SELECT %d", u.db), &rep))) goto refused;
        freeReplyObject(rep);
    }
    return r;
refused: /* Redis is there but will not let us in: as unusable as unreachable */
    *rc = BF_CLI_UNREACHABLE;
fail:
    bf_cli_redis_free(r);
    return NULL;
}

void bf_cli_redis_free(bf_cli_redis *r)
{
    if (!r) return;
    if (r->ctx) redisFree(r->ctx);
    free(r);
}

const char *bf_cli_redis_prefix(const bf_cli_redis *r)
{
    return r->prefix;
}

int bf_cli_redis_cmd(bf_cli_redis *r, redisReply **out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *rep = redisvCommand(r->ctx, fmt, ap);
    va_end(ap);
    return check(r, rep, out);
}

void bf_cli_redis_append(bf_cli_redis *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = redisvAppendCommand(r->ctx, fmt, ap);
    va_end(ap);
    if (rc != REDIS_OK) abort(); /* only fails when out of memory or for a bad format string */
}

int bf_cli_redis_next(bf_cli_redis *r, redisReply **out)
{
    void *rep = NULL;
    if (redisGetReply(r->ctx, &rep) != REDIS_OK) rep = NULL;
    return check(r, rep, out);
}

int bf_cli_redis_bad(bf_cli_redis *r, redisReply *reply, const char *what)
{
    bf_cli_error(r->cmd, "unexpected reply to %s from %s", what, r->where);
    if (reply) freeReplyObject(reply);
    return BF_CLI_FAILED;
}

int bf_cli_scope_channel(bf_cli_redis *r, const char *app, const char *name, char *out, size_t cap)
{
    if (!app) {
        snprintf(out, cap, "%s", name);
        return 0;
    }
    for (const char *c = app; *c; c++) {
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '_' || *c == '-')) {
            bf_cli_error(r->cmd, "--app '%s': an app id uses only A-Z a-z 0-9 _ -", app);
            return BF_CLI_USAGE;
        }
    }
    char key[BF_KEY_MAX];
    bf_key(key, r->prefix, BF_KEY_APPS_DEFAULT, NULL);
    redisReply *d;
    int rc = bf_cli_redis_cmd(r, &d, "GET %s", key);
    if (rc) return rc;
    /* no router ever said (none has run with this prefix): the implicit default app "default" */
    const char *def = d->type == REDIS_REPLY_STRING ? d->str : "default";
    int n = !strcmp(def, app) ? snprintf(out, cap, "%s", name)
                              : snprintf(out, cap, "%s%c%s", app, BF_APP_SCOPE_SEP, name);
    freeReplyObject(d);
    if (n < 0 || (size_t)n >= cap) {
        bf_cli_error(r->cmd, "--app '%s': the scoped channel name is too long", app);
        return BF_CLI_USAGE;
    }
    return 0;
}

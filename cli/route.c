#include "route.h"
#include "resp.h"
#include "slot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

bool bf_cli_route_verb_is(const char *cmd, size_t len, const char *word)
{
    bf_resp_arg v[1];
    return bf_resp_args(cmd, len, v, 1) >= 1 && bf_resp_is(&v[0], word);
}

int bf_cli_route_slot(const char *cmd, size_t len)
{
    return bf_resp_slot_of_cmd(cmd, len);
}

int bf_cli_route_redirect(const char *err, bf_cli_redirect *out)
{
    return bf_resp_redirect_parse(err, out);
}

int bf_cli_route_slots(const redisReply *rep, bf_cli_slot_range *out, size_t cap, size_t *n)
{
    *n = 0;
    if (!rep || rep->type != REDIS_REPLY_ARRAY) return -1;
    for (size_t i = 0; i < rep->elements; i++) {
        /* [start, end, [host, port, id, ...], replicas...] */
        const redisReply *r = rep->element[i];
        if (r->type != REDIS_REPLY_ARRAY || r->elements < 3 ||
            r->element[0]->type != REDIS_REPLY_INTEGER ||
            r->element[1]->type != REDIS_REPLY_INTEGER ||
            r->element[2]->type != REDIS_REPLY_ARRAY || r->element[2]->elements < 2)
            return -1;
        const redisReply *h = r->element[2]->element[0], *p = r->element[2]->element[1];
        long long s = r->element[0]->integer, e = r->element[1]->integer;
        if (s < 0 || e < s || e >= BF_SLOT_COUNT || p->type != REDIS_REPLY_INTEGER ||
            p->integer <= 0 || p->integer > 65535 ||
            (h->type != REDIS_REPLY_STRING && h->type != REDIS_REPLY_NIL) || *n == cap)
            return -1;
        bf_cli_slot_range *o = &out[(*n)++];
        o->start = (unsigned)s;
        o->end = (unsigned)e;
        o->port = (int)p->integer;
        /* "" or "?" (Redis 7: endpoint unknown) or NIL: the node we asked */
        snprintf(o->host, sizeof(o->host), "%s",
                 h->type == REDIS_REPLY_STRING && strcmp(h->str, "?") ? h->str : "");
        if (h->type == REDIS_REPLY_STRING && h->len >= sizeof(o->host)) return -1;
    }
    return 0;
}

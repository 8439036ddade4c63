#include "overload.h"
#include "alloc.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_GATEWAYS 1024 /* more live gateways than this are not tracked (logged once) */
#define ID_MAX 64

typedef struct gw_state {
    char id[ID_MAX + 1];
    uint64_t last_report_ms, backlog_ms;
    bool behind;
    enum { LINK_UNKNOWN, LINK_PRESENT, LINK_ABSENT } link; /* from the last client list */
} gw_state;

struct bf_overload {
    uint64_t silence_ms;
    char client_prefix[128];
    gw_state *gws;
    size_t n, cap;
    bool clients_asked;
    uint64_t clients_at_ms; /* when the last client list arrived */
    size_t behind;
    char why[160];
    bool warned_full;
};

bf_overload *bf_overload_new(uint64_t silence_ms, const char *client_prefix)
{
    bf_overload *o = bf_calloc(1, sizeof(*o));
    o->silence_ms = silence_ms;
    snprintf(o->client_prefix, sizeof(o->client_prefix), "%s", client_prefix);
    return o;
}

void bf_overload_free(bf_overload *o)
{
    if (!o) return;
    free(o->gws);
    free(o);
}

static gw_state *find(bf_overload *o, const char *id, size_t len)
{
    for (size_t i = 0; i < o->n; i++)
        if (strlen(o->gws[i].id) == len && !memcmp(o->gws[i].id, id, len)) return &o->gws[i];
    return NULL;
}

int bf_overload_report(bf_overload *o, const char *msg, size_t len, uint64_t now_ms)
{
    /* "<id> <ms> <0|1>" */
    const char *sp = memchr(msg, ' ', len);
    if (!sp || sp == msg || (size_t)(sp - msg) > ID_MAX) return -1;
    size_t idlen = (size_t)(sp - msg);
    char rest[48];
    size_t rl = len - idlen - 1;
    if (rl == 0 || rl >= sizeof(rest)) return -1;
    memcpy(rest, sp + 1, rl);
    rest[rl] = '\0';
    unsigned long long ms;
    int behind;
    char extra;
    if (sscanf(rest, "%llu %d%c", &ms, &behind, &extra) != 2 || (behind != 0 && behind != 1))
        return -1;
    gw_state *g = find(o, msg, idlen);
    if (!g) {
        if (o->n == MAX_GATEWAYS) {
            if (!o->warned_full) bf_warn("more than %d gateways report a backlog", MAX_GATEWAYS);
            o->warned_full = true;
            return 0;
        }
        if (o->n == o->cap) {
            o->cap = o->cap ? o->cap * 2 : 8;
            o->gws = bf_realloc(o->gws, o->cap * sizeof(*o->gws));
        }
        g = &o->gws[o->n++];
        memset(g, 0, sizeof(*g));
        memcpy(g->id, msg, idlen);
        g->id[idlen] = '\0';
    }
    g->last_report_ms = now_ms;
    g->backlog_ms = ms;
    g->behind = behind == 1;
    g->link = LINK_UNKNOWN;
    return 0;
}

void bf_overload_set_live(bf_overload *o, const char *const *ids, size_t n)
{
    size_t w = 0;
    for (size_t i = 0; i < o->n; i++) {
        bool live = false;
        for (size_t j = 0; j < n && !live; j++) live = !strcmp(o->gws[i].id, ids[j]);
        if (live) o->gws[w++] = o->gws[i];
    }
    o->n = w;
}

static bool silent(const bf_overload *o, const gw_state *g, uint64_t now_ms)
{
    return now_ms - g->last_report_ms > o->silence_ms;
}

bool bf_overload_want_clients(bf_overload *o, uint64_t now_ms)
{
    if (o->clients_asked) return false;
    for (size_t i = 0; i < o->n; i++) {
        const gw_state *g = &o->gws[i];
        /* a list taken after the gateway fell silent answers for it */
        if (silent(o, g, now_ms) && o->clients_at_ms <= g->last_report_ms + o->silence_ms) {
            o->clients_asked = true;
            return true;
        }
    }
    return false;
}

void bf_overload_clients(bf_overload *o, const char *list, uint64_t now_ms)
{
    o->clients_asked = false;
    if (!list) return; /* failed: silent gateways stay behind; asked again at the next check */
    o->clients_at_ms = now_ms;
    size_t pl = strlen(o->client_prefix);
    for (size_t i = 0; i < o->n; i++) {
        gw_state *g = &o->gws[i];
        if (!silent(o, g, now_ms)) continue;
        /* one line per client: "... name=<prefix>gwsub:<id> ..." */
        bool present = false;
        for (const char *p = strstr(list, " name="); p && !present; p = strstr(p + 1, " name=")) {
            const char *v = p + 6;
            present = !strncmp(v, o->client_prefix, pl) && !strncmp(v + pl, g->id, strlen(g->id)) &&
                      (v[pl + strlen(g->id)] == ' ' || v[pl + strlen(g->id)] == '\n' ||
                       v[pl + strlen(g->id)] == '\0');
        }
        g->link = present ? LINK_PRESENT : LINK_ABSENT;
    }
}

const char *bf_overload_check(bf_overload *o, uint64_t now_ms, uint64_t *retry_ms)
{
    const gw_state *worst = NULL;
    bool worst_silent = false;
    o->behind = 0;
    for (size_t i = 0; i < o->n; i++) {
        const gw_state *g = &o->gws[i];
        bool s = silent(o, g, now_ms);
        /* a silent gateway whose link Redis no longer holds is dead, not behind: nothing queues */
        bool counts = s ? g->link != LINK_ABSENT : g->behind;
        if (!counts) continue;
        o->behind++;
        if (!worst || (s && !worst_silent) ||
            (s == worst_silent && g->backlog_ms > worst->backlog_ms)) {
            worst = g;
            worst_silent = s;
        }
    }
    if (!worst) return NULL;
    if (worst_silent) {
        snprintf(o->why, sizeof(o->why),
                 "gateway %s has not reported its delivery backlog for %llu ms", worst->id,
                 (unsigned long long)(now_ms - worst->last_report_ms));
        *retry_ms = o->silence_ms;
    } else {
        snprintf(o->why, sizeof(o->why), "gateway %s is %llu ms behind on delivery", worst->id,
                 (unsigned long long)worst->backlog_ms);
        /* about the time it needs to halve its backlog, within sane bounds */
        uint64_t r = worst->backlog_ms / 2;
        *retry_ms = r < 10 ? 10 : r > 1000 ? 1000 : r;
    }
    return o->why;
}

size_t bf_overload_behind(const bf_overload *o)
{
    return o->behind;
}

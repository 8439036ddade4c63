/* Small helpers shared by the integration suites (header-only; each suite is one executable). */
#ifndef BF_IT_COMMON_H
#define BF_IT_COMMON_H

#include "common/redis_keys.h"
#include "harness.h"
#include "http_client.h"
#include "ws_client.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define IT_API_KEY "test-api-key-0123456789abcdef0123456789"
#define IT_KEY_HDR "Authorization: Bearer " IT_API_KEY "\r\n"
#define IT_SECRET "it-secret-0123456789abcdef0123456789abcdef"

/* Waits until `want` gateways have confirmed their fan-out subscription to channel. */
static inline void it_wait_subscribed(bf_cluster *c, const char *channel, int want)
{
    cr_assert(bf_cluster_wait_subscribed(c, channel, want, 5000),
              "gateways did not subscribe to %s", channel);
}

static inline bf_ws *it_connect(bf_cluster *c, int gw, const char *path, const char *headers)
{
    int status = 0;
    char *body = NULL;
    bf_ws *w = bf_ws_connect(c->gateways[gw].port, path, headers, &status, &body, 5000);
    cr_assert_not_null(w, "upgrade %s on gateway %d: status %d %s", path, gw, status,
                       body ? body : "");
    free(body);
    return w;
}

/* Tries an upgrade that must be refused; returns the status and checks the JSON error code. */
static inline void it_refused(bf_cluster *c, int gw, const char *path, const char *headers,
                              int want_status, const char *want_code)
{
    int status = 0;
    char *body = NULL;
    bf_ws *w = bf_ws_connect(c->gateways[gw].port, path, headers, &status, &body, 5000);
    cr_expect_null(w, "%s was upgraded", path);
    bf_ws_abort(w);
    cr_expect_eq(status, want_status, "%s: status %d body %s", path, status, body ? body : "");
    json_t *j = body ? json_loads(body, 0, NULL) : NULL;
    const char *code = json_string_value(json_object_get(json_object_get(j, "error"), "code"));
    cr_expect(code && !strcmp(code, want_code), "%s: want code %s, body %s", path, want_code,
              body ? body : "");
    json_decref(j);
    free(body);
}

static inline void it_publish(bf_cluster *c, const char *channel, const char *body)
{
    char path[256];
    bf_http_resp r;
    snprintf(path, sizeof(path), "/broadcast/%s", channel);
    cr_assert_eq(
        bf_http(c->routers[0].port, "POST", path, IT_KEY_HDR, body, strlen(body), &r, 5000), 0);
    cr_assert_eq(r.status, 204, "publish to %s: %d %s", channel, r.status, r.body);
    bf_http_resp_free(&r);
}

/* POSTs body to /broadcast/<channel> on the first router: the HTTP status, or 0 when no answer
 * came within 5 s (a hang). For tests where a refusal is an expected answer. */
static inline int it_publish_status(bf_cluster *c, const char *channel, const char *body)
{
    char path[256];
    bf_http_resp r;
    snprintf(path, sizeof(path), "/broadcast/%s", channel);
    if (bf_http(c->routers[0].port, "POST", path, IT_KEY_HDR, body, strlen(body), &r, 5000))
        return 0;
    int st = r.status;
    bf_http_resp_free(&r);
    return st;
}

/* Receives the next text frame as parsed JSON (caller decrefs); fails the test on timeout. */
static inline json_t *it_recv_json(bf_ws *w, int timeout_ms, const char *who)
{
    bf_ws_msg m;
    int rc = bf_ws_recv(w, &m, timeout_ms);
    cr_assert_eq(rc, 0, "%s: no message within %d ms", who, timeout_ms);
    cr_assert_eq(m.opcode, 1, "%s: opcode %d (close code %d: %s)", who, m.opcode, m.close_code,
                 m.data);
    json_t *j = json_loads(m.data, 0, NULL);
    cr_assert_not_null(j, "%s: not JSON: %s", who, m.data);
    bf_ws_msg_free(&m);
    return j;
}

/* Receives until a frame with event ev arrives (skipping others); returns it (caller decrefs). */
static inline json_t *it_recv_event(bf_ws *w, const char *ev, int timeout_ms, const char *who)
{
    long long deadline = bf_ms() + timeout_ms;
    for (;;) {
        long long left = deadline - bf_ms();
        cr_assert(left > 0, "%s: no %s within %d ms", who, ev, timeout_ms);
        json_t *j = it_recv_json(w, (int)left, who);
        const char *e = json_string_value(json_object_get(j, "event"));
        if (e && !strcmp(e, ev)) return j;
        json_decref(j);
    }
}

static inline void it_expect_silence(bf_ws *w, int ms, const char *who)
{
    bf_ws_msg m;
    if (bf_ws_recv(w, &m, ms) == 0) {
        cr_expect_fail("%s: unexpected frame (opcode %d): %s", who, m.opcode, m.data);
        bf_ws_msg_free(&m);
    }
}

/* A token for user with the given channels (JSON array text) valid for ttl seconds. */
static inline char *it_token(const char *user, const char *channels_json, long long ttl)
{
    char claims[1024];
    snprintf(claims, sizeof(claims), "{\"sub\":\"%s\",\"exp\":%lld,\"channels\":%s}", user,
             (long long)time(NULL) + ttl, channels_json);
    return bf_mint_token(IT_SECRET, "HS256", claims);
}

/* GET path with the API key from the first router that is running. */
/* Sum of the per-gateway connection counts Redis holds for channel (conns:{channel}). */
static inline long it_conns_in_redis(bf_cluster *c, const char *channel)
{
    char *v = bf_redis_query(c, "HVALS belfry:conns:{%s}", channel);
    long sum = 0;
    for (char *p = v; p && *p;) {
        sum += strtol(p, &p, 10);
        while (*p == '\n') p++;
    }
    free(v);
    return sum;
}

/* The connection w is closed with 1012 "resubscribed: reconnect and recover" (its gateway's
 * subscription to the channel lapsed and the stream resumed past a gap: gateway/hub.c) after at
 * most the frames it still had; then a new connection to gateway gw with ?since=seen (the last
 * seq w got) and the channel's epoch must be told recovered:true with exactly want frames after
 * it, whose seqs follow seen one by one; returns that connection (caller closes it) with *last
 * set to the last seq. */
static inline bf_ws *it_closed_then_recovered(bf_cluster *c, bf_ws *w, int gw, const char *channel,
                                              long long seen, int want, long long *last)
{
    for (;;) {
        bf_ws_msg m;
        cr_assert_eq(bf_ws_recv(w, &m, 5000), 0, "no close to recover within 5 s");
        if (m.opcode == 1) { /* what came before the gap */
            bf_ws_msg_free(&m);
            continue;
        }
        cr_assert_eq(m.opcode, 8, "opcode %d", m.opcode);
        cr_expect_eq(m.close_code, 1012, "close code %d: %s", m.close_code, m.data);
        cr_expect(strstr(m.data, "resubscribed"), "close reason: %s", m.data);
        bf_ws_msg_free(&m);
        break;
    }
    bf_ws_close(w);
    char key[BF_KEY_MAX], path[256];
    bf_key(key, c->o.prefix, BF_KEY_EPOCH, channel);
    char *epoch = bf_redis_query(c, "GET %s", key);
    cr_assert_not_null(epoch, "no epoch for %s", channel);
    snprintf(path, sizeof(path), "/ws/%s?since=%lld&epoch=%s", channel, seen, epoch);
    free(epoch);
    bf_ws *r = it_connect(c, gw, path, NULL);
    json_t *j = it_recv_json(r, 5000, "recovering client");
    json_t *d = json_object_get(j, "data");
    cr_assert(json_is_true(json_object_get(d, "recovered")), "not recovered: %s", json_dumps(j, 0));
    json_decref(j);
    long long s = seen;
    for (int i = 0; i < want; i++) {
        j = it_recv_json(r, 5000, "recovering client");
        long long seq = json_integer_value(json_object_get(j, "seq"));
        cr_expect_eq(seq, s + 1, "recovered seq %lld after %lld", seq, s);
        s = seq;
        json_decref(j);
    }
    *last = s;
    return r;
}

/* For a failure that the test's own message cannot explain: every live router's and gateway's
 * metric lines (no comments) whose name holds one of the '|'-separated words of match, on stderr
 * (the suite's output, which CI prints). */
static inline void it_dump_metrics(bf_cluster *c, const char *match)
{
    for (int k = 0; k < c->nrouters + c->ngateways; k++) {
        bool router = k < c->nrouters;
        bf_proc *p = router ? &c->routers[k] : &c->gateways[k - c->nrouters];
        bf_http_resp r;
        if (p->pid <= 0 ||
            bf_http(p->port, "GET", "/metrics", router ? IT_KEY_HDR : NULL, NULL, 0, &r, 2000))
            continue;
        fprintf(stderr, "--- metrics of %s %d (port %d)\n", router ? "router" : "gateway",
                router ? k : k - c->nrouters, p->port);
        for (char *save = NULL, *l = strtok_r(r.body, "\n", &save); l;
             l = strtok_r(NULL, "\n", &save)) {
            if (l[0] == '#') continue;
            char words[256];
            snprintf(words, sizeof(words), "%s", match);
            bool hit = false;
            for (char *ws = NULL, *w = strtok_r(words, "|", &ws); w && !hit;
                 w = strtok_r(NULL, "|", &ws))
                hit = strstr(l, w) != NULL;
            if (hit) fprintf(stderr, "%s\n", l);
        }
        bf_http_resp_free(&r);
    }
}

static inline char *it_http_get(bf_cluster *c, const char *path, int *status)
{
    bf_http_resp r;
    int i = 0;
    while (i < c->nrouters - 1 && c->routers[i].pid <= 0) i++;
    cr_assert_eq(bf_http(c->routers[i].port, "GET", path, IT_KEY_HDR, NULL, 0, &r, 5000), 0);
    *status = r.status;
    char *b = r.body;
    r.body = NULL;
    bf_http_resp_free(&r);
    return b;
}

#endif

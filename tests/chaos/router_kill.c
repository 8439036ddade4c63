/* Chaos: one of three routers killed with SIGKILL while publishes flow. HTTP publishes to the
 * survivors keep succeeding; every publish answered 204 is delivered exactly once; seq stays
 * gapless; presence is intact and no join/leave is duplicated; ownership moves within the TTL. */
#include "../integration/common.h"

#include <signal.h>

#define NCH 12

TestSuite(chaos_router, .timeout = 120);

static int publish_to(bf_cluster *c, int router, const char *channel, int id)
{
    char path[128], body[128];
    snprintf(path, sizeof(path), "/broadcast/%s", channel);
    snprintf(body, sizeof(body), "{\"event\":\"M\",\"data\":{\"id\":%d}}", id);
    bf_http_resp r;
    if (bf_http(c->routers[router].port, "POST", path, IT_KEY_HDR, body, strlen(body), &r, 2000))
        return 0;
    int s = r.status;
    bf_http_resp_free(&r);
    return s;
}

/* Drains w, checking seqs are consecutive from *last+1; marks ids seen (counting duplicates). */
static void drain(bf_ws *w, long long *last, int *seen, int maxid, int *dups, int wait_ms)
{
    bf_ws_msg m;
    while (bf_ws_recv(w, &m, wait_ms) == 0) {
        if (m.opcode == 1) {
            json_t *j = json_loads(m.data, 0, NULL);
            long long seq = json_integer_value(json_object_get(j, "seq"));
            cr_expect_eq(seq, *last + 1, "seq %lld after %lld: %s", seq, *last, m.data);
            *last = seq;
            int id = (int)json_integer_value(json_object_get(json_object_get(j, "data"), "id"));
            if (id >= 0 && id < maxid) {
                if (seen[id]) (*dups)++;
                seen[id]++;
            }
            json_decref(j);
        }
        bf_ws_msg_free(&m);
    }
}

Test(chaos_router, kill9_keeps_publishing_and_presence_intact)
{
    bf_cluster_opts o = {.routers = 3, .gateways = 2, .jwt_secret = IT_SECRET};
    bf_cluster *c = bf_cluster_start(&o);
    cr_assert_not_null(c);
    char names[NCH][32];
    bf_ws *subs[NCH];
    for (int i = 0; i < NCH; i++) {
        snprintf(names[i], sizeof(names[i]), "rk-%d", i);
        char path[64];
        snprintf(path, sizeof(path), "/ws/%s", names[i]);
        subs[i] = it_connect(c, i % 2, path, NULL);
    }
    for (int i = 0; i < NCH; i++) it_wait_subscribed(c, names[i], 1);
    /* presence members whose owner may be the router that dies */
    char *t = it_token("pat", "[\"presence-rk*\"]", 600);
    char p1[4096], p2[4096];
    snprintf(p1, sizeof(p1), "/ws/presence-rk?token=%s", t);
    free(t);
    t = it_token("obs", "[\"presence-rk*\"]", 600);
    snprintf(p2, sizeof(p2), "/ws/presence-rk?token=%s", t);
    free(t);
    bf_ws *obs = it_connect(c, 1, p2, NULL);
    json_decref(it_recv_event(obs, "presence:here", 5000, "obs"));
    bf_ws *pat = it_connect(c, 0, p1, NULL);
    json_decref(it_recv_event(pat, "presence:here", 5000, "pat"));
    json_decref(it_recv_event(obs, "presence:join", 5000, "obs"));

    enum { MAXID = 6000 };
    static int acked[MAXID];
    static int seen[NCH][MAXID];
    long long last[NCH] = {0};
    int dups = 0, id = 0, failed_on_dead = 0;
    long long start = bf_ms(), killed_at = 0;
    /* publish for ~9 s, round-robin over all three routers; kill router 0 after 2 s */
    while (bf_ms() - start < 9000 && id < MAXID) {
        if (!killed_at && bf_ms() - start > 2000) {
            cr_assert_eq(bf_cluster_signal_router(c, 0, SIGKILL), 0);
            killed_at = bf_ms();
        }
        int router = id % 3, ch = id % NCH;
        if (killed_at && router == 0) {
            failed_on_dead += publish_to(c, 0, names[ch], -1) != 204;
            router = 1 + id % 2;
        }
        int st = publish_to(c, router, names[ch], id);
        cr_expect_eq(st, 204, "publish %d via surviving router %d answered %d", id, router, st);
        if (st == 204) acked[id] = 1;
        id++;
        usleep(2000); /* a steady rate, not a flood: the kill must land mid-stream */
        if (id % 50 == 0)
            for (int i = 0; i < NCH; i++) drain(subs[i], &last[i], seen[i], MAXID, &dups, 0);
    }
    for (int i = 0; i < NCH; i++) drain(subs[i], &last[i], seen[i], MAXID, &dups, 300);
    cr_expect(failed_on_dead > 0, "the killed router still answered");
    int lost = 0;
    for (int k = 0; k < id; k++)
        if (acked[k] && !seen[k % NCH][k]) lost++;
    cr_expect_eq(lost, 0, "%d acknowledged publishes were not delivered", lost);
    cr_expect_eq(dups, 0, "%d duplicates", dups);
    fprintf(stderr, "chaos_router: %d publishes, %d refused by the dead router, lost %d, dups %d\n",
            id, failed_on_dead, lost, dups);
    /* presence survived, and no join/leave was emitted for the failover itself */
    it_expect_silence(obs, 500, "observer during failover");
    int st;
    char *body = it_http_get(c, "/presence/presence-rk", &st);
    cr_expect(strstr(body, "\"pat\"") && strstr(body, "\"obs\""), "%s", body);
    free(body);
    /* the new owner handles presence: pat leaves, obs sees exactly one leave */
    bf_ws_close(pat);
    json_t *lv = it_recv_event(obs, "presence:leave", 8000, "obs");
    json_decref(lv);
    it_expect_silence(obs, 500, "observer after leave");
    for (int i = 0; i < NCH; i++) bf_ws_close(subs[i]);
    bf_ws_close(obs);
    cr_expect_eq(bf_cluster_stop_checked(c), 0);
}

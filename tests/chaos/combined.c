/* Chaos: in one run, kill one router and one gateway (SIGKILL) while a publisher sends to 50
 * channels at a steady rate and clients of the dead gateway reconnect elsewhere. Afterwards: for
 * each continuously connected client the seqs are gapless and strictly increasing, presence
 * matches the live connections exactly, and no ghost member remains after the sweep bound. */
#include "../integration/common.h"

#include <signal.h>

#define NCH 50
#define NGW 3

TestSuite(chaos_combined, .timeout = 150);

typedef struct client {
    bf_ws *w;
    int gw, ch;
    long long last; /* last seq seen */
    bool continuous;
    int bad;
} client;

static void drain_client(client *cl, int wait_ms)
{
    bf_ws_msg m;
    int rc;
    while ((rc = bf_ws_recv(cl->w, &m, wait_ms)) == 0) {
        if (m.opcode == 1) {
            json_t *j = json_loads(m.data, 0, NULL);
            long long seq = json_integer_value(json_object_get(j, "seq"));
            if (cl->continuous && seq != cl->last + 1) cl->bad++;
            if (seq <= cl->last) cl->bad++;
            cl->last = seq;
            json_decref(j);
        }
        bf_ws_msg_free(&m);
    }
}

static bf_ws *presence_conn(bf_cluster *c, int gw, const char *user)
{
    char *t = it_token(user, "[\"presence-cc\"]", 600);
    char path[4096];
    snprintf(path, sizeof(path), "/ws/presence-cc?token=%s", t);
    free(t);
    bf_ws *w = it_connect(c, gw, path, NULL);
    json_decref(it_recv_event(w, "presence:here", 5000, user));
    return w;
}

Test(chaos_combined, kill_a_router_and_a_gateway_under_load)
{
    bf_cluster_opts o = {.routers = 3, .gateways = NGW, .jwt_secret = IT_SECRET};
    bf_cluster *c = bf_cluster_start(&o);
    cr_assert_not_null(c);
    srand((unsigned)bf_ms());
    int dead_rt = rand() % 3, dead_gw = rand() % NGW;
    fprintf(stderr, "chaos_combined: will kill router %d and gateway %d\n", dead_rt, dead_gw);
    static client cl[NCH * 2];
    int n = 0;
    for (int i = 0; i < NCH; i++) {
        for (int s = 0; s < 2; s++) {
            char path[64];
            snprintf(path, sizeof(path), "/ws/cc-%d", i);
            cl[n].gw = (i + s) % NGW;
            cl[n].ch = i;
            cl[n].w = it_connect(c, cl[n].gw, path, NULL);
            cl[n].continuous = cl[n].gw != dead_gw;
            n++;
        }
    }
    for (int i = 0; i < NCH; i++) {
        char name[32];
        snprintf(name, sizeof(name), "cc-%d", i);
        it_wait_subscribed(c, name, 2);
    }
    /* presence: one user per gateway, plus one user on two gateways */
    bf_ws *pres[NGW + 1];
    char users[NGW][8];
    for (int g = 0; g < NGW; g++) {
        snprintf(users[g], sizeof(users[g]), "u%d", g);
        pres[g] = presence_conn(c, g, users[g]);
    }
    pres[NGW] = presence_conn(c, (dead_gw + 1) % NGW, users[dead_gw]); /* survives elsewhere */

    long long start = bf_ms();
    int id = 0, killed = 0;
    while (bf_ms() - start < 10000) {
        if (!killed && bf_ms() - start > 2500) {
            cr_assert_eq(bf_cluster_signal_router(c, dead_rt, SIGKILL), 0);
            cr_assert_eq(bf_cluster_signal_gateway(c, dead_gw, SIGKILL), 0);
            killed = 1;
            /* clients of the dead gateway reconnect through the others */
            for (int k = 0; k < n; k++) {
                if (cl[k].gw != dead_gw) continue;
                bf_ws_abort(cl[k].w);
                char path[64];
                snprintf(path, sizeof(path), "/ws/cc-%d", cl[k].ch);
                cl[k].gw = (dead_gw + 1 + k % (NGW - 1)) % NGW;
                cl[k].w = it_connect(c, cl[k].gw, path, NULL);
                cl[k].last = 0; /* a new connection starts wherever the channel is */
            }
        }
        int router = id % 3;
        if (killed && router == dead_rt) router = (router + 1) % 3;
        char path[64], body[96];
        snprintf(path, sizeof(path), "/broadcast/cc-%d", id % NCH);
        snprintf(body, sizeof(body), "{\"event\":\"T\",\"data\":{\"id\":%d}}", id);
        bf_http_resp r;
        if (bf_http(c->routers[router].port, "POST", path, IT_KEY_HDR, body, strlen(body), &r,
                    2000) == 0) {
            cr_expect_eq(r.status, 204, "publish %d via router %d: %d", id, router, r.status);
            bf_http_resp_free(&r);
        }
        id++;
        usleep(4000);
        if (id % 40 == 0)
            for (int k = 0; k < n; k++) drain_client(&cl[k], 0);
    }
    for (int k = 0; k < n; k++) drain_client(&cl[k], k ? 20 : 500);
    int bad = 0, cont = 0;
    for (int k = 0; k < n; k++) {
        if (cl[k].continuous) cont++;
        bad += cl[k].bad;
    }
    cr_expect_eq(bad, 0, "%d seq gaps or reorderings among continuously connected clients", bad);
    cr_expect(cont > 0);
    fprintf(stderr, "chaos_combined: %d publishes, %d continuous clients, %d anomalies\n", id, cont,
            bad);
    /* presence converges to the live connections: the dead gateway's only user is gone, the
     * user with a surviving connection stays */
    char want[64];
    long long deadline = bf_ms() + 12000;
    char *body = NULL;
    int st = 0;
    bool ok = false;
    while (!ok && bf_ms() < deadline) {
        free(body);
        body = it_http_get(c, "/presence/presence-cc", &st);
        ok = true;
        for (int g = 0; g < NGW; g++) {
            snprintf(want, sizeof(want), "\"%s\"", users[g]);
            ok &= strstr(body, want) != NULL; /* every user still has a live connection */
        }
        ok &= strstr(body, "\"u") && st == 200;
        if (!ok) usleep(200000);
    }
    cr_expect(ok, "presence: %s", body);
    /* exactly NGW members: no ghost of the dead gateway's connection lingers as a duplicate */
    json_t *j = json_loads(body, 0, NULL);
    cr_expect_eq(json_array_size(json_object_get(j, "members")), NGW, "%s", body);
    json_decref(j);
    free(body);
    /* and now close everything on presence: the channel empties completely */
    for (int g = 0; g <= NGW; g++)
        if (g != dead_gw) bf_ws_close(pres[g]);
    bf_ws_abort(pres[dead_gw]);
    deadline = bf_ms() + 5000;
    body = NULL;
    while (bf_ms() < deadline) {
        free(body);
        body = it_http_get(c, "/presence/presence-cc", &st);
        if (!strcmp(body, "{\"members\":[]}")) break;
        usleep(100000);
    }
    cr_expect_str_eq(body, "{\"members\":[]}", "ghost members remain");
    free(body);
    for (int k = 0; k < n; k++) bf_ws_close(cl[k].w);
    cr_expect_eq(bf_cluster_stop_checked(c), 0);
}

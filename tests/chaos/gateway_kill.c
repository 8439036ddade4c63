/* Chaos: a gateway killed with SIGKILL. Its presence entries are swept by the channel owners
 * within the bound (gateway heartbeat TTL 5 s + sweep interval 2 s + heartbeat 1 s: < 10 s), with
 * exactly one presence:leave per user left without a connection elsewhere. */
#include "../integration/common.h"

#include <signal.h>

static bf_ws *join(bf_cluster *c, int gw, const char *channel, const char *user)
{
    char chans[256], path[4096];
    snprintf(chans, sizeof(chans), "[\"%s\"]", channel);
    char *t = it_token(user, chans, 600);
    snprintf(path, sizeof(path), "/ws/%s?token=%s", channel, t);
    free(t);
    bf_ws *w = it_connect(c, gw, path, NULL);
    json_t *here = it_recv_event(w, "presence:here", 5000, user);
    json_decref(here);
    return w;
}

TestSuite(chaos_gateway, .timeout = 90);

Test(chaos_gateway, kill9_sweeps_presence_within_bound_once_per_user)
{
    bf_cluster_opts o = {.routers = 1, .gateways = 2, .jwt_secret = IT_SECRET};
    bf_cluster *c = bf_cluster_start(&o);
    cr_assert_not_null(c);
    const char *ch = "presence-chaos";
    bf_ws *obs = join(c, 1, ch, "observer");
    bf_ws *a = join(c, 0, ch, "alice"); /* only on the gateway that dies */
    bf_ws *b0 = join(c, 0, ch, "bob");  /* bob has a second connection that survives */
    bf_ws *b1 = join(c, 1, ch, "bob");
    for (int i = 0; i < 2; i++) json_decref(it_recv_event(obs, "presence:join", 5000, "observer"));
    long long t0 = bf_ms();
    cr_assert_eq(bf_cluster_signal_gateway(c, 0, SIGKILL), 0);
    json_t *leave = it_recv_event(obs, "presence:leave", 10000, "observer");
    long long took = bf_ms() - t0;
    cr_expect_str_eq(json_string_value(json_object_get(
                         json_object_get(json_object_get(leave, "data"), "member"), "id")),
                     "alice");
    json_decref(leave);
    cr_expect(took <= 10000, "leave after %lld ms", took);
    fprintf(stderr, "chaos_gateway: presence:leave %lld ms after kill -9\n", took);
    /* no leave for bob (he is still connected on the other gateway), no duplicate for alice */
    it_expect_silence(obs, 2500, "observer");
    int st;
    char *body = it_http_get(c, "/presence/presence-chaos", &st);
    cr_expect(strstr(body, "\"observer\"") && strstr(body, "\"bob\"") && !strstr(body, "alice"),
              "%s", body);
    free(body);
    body = it_http_get(c, "/channels/presence-chaos", &st);
    cr_expect_str_eq(body, "{\"occupied\":true,\"subscription_count\":2,\"user_count\":2}");
    free(body);
    bf_ws_abort(a);
    bf_ws_abort(b0);
    bf_ws_close(b1);
    bf_ws_close(obs);
    /* the killed gateway was reaped by the harness: stop the rest cleanly */
    cr_expect_eq(bf_cluster_stop_checked(c), 0);
}

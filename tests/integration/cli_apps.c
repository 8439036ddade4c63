/* belfryctl --app: the commands that address a channel address one app's channel. The default
 * app's channels keep their bare names; another app's are scoped ("APPID/name", common/apps.h),
 * and belfryctl learns which app is the default from the routers (apps:default). Checked through
 * the per-app Redis ingress, history and ownership of a live cluster with two apps. */
#include "cli_common.h"

static bf_cluster *C;
static const char *const apps[] = {"--app", "1:key-one:secret-one-0123456789", "--app",
                                   "2:key-two:secret-two-0123456789", NULL};

static void setup(void)
{
    bf_cluster_opts o = {.routers = 2, .gateways = 1, .router_args = apps, .gateway_args = apps};
    C = bf_cluster_start(&o);
    cr_assert_not_null(C, "cluster did not start");
}

static void teardown(void)
{
    cr_expect_eq(bf_cluster_stop_checked(C), 0, "a daemon did not exit cleanly");
}

TestSuite(cli_apps, .init = setup, .fini = teardown, .timeout = 60);

static long long history_seq(const char *app, const char *channel)
{
    cli_res r = app ? cli_run("history", channel, "--app", app, "--redis", C->redis_url, "--json")
                    : cli_run("history", channel, "--redis", C->redis_url, "--json");
    json_t *j = r.status == 0 ? json_loads(r.out, 0, NULL) : NULL;
    long long seq = j ? json_integer_value(json_object_get(j, "seq")) : -1;
    json_decref(j);
    cli_res_free(&r);
    return seq;
}

/* Publishes payload through the Redis ingress subject until the app's channel has a seq: the
 * ingress is at-most-once, and drops what arrives while the routers' ring is still forming. */
static long long ingress_until_sequenced(const char *subject, const char *app, const char *ch,
                                         const char *payload)
{
    for (int i = 0; i < 50; i++) {
        free(bf_redis_query(C, "PUBLISH %s %s", subject, payload));
        usleep(100000);
        long long seq = history_seq(app, ch);
        if (seq > 0) return seq;
    }
    return 0;
}

Test(cli_apps, history_is_per_app)
{
    /* the per-app Redis ingress: app 2's "news" is "2/news" inside the cluster */
    long long two = ingress_until_sequenced("belfry:publish:2/news", "2", "news",
                                            "{\"event\":\"E\",\"data\":1}");
    cr_assert_gt(two, 0, "app 2's news was never sequenced");
    cr_expect_eq(history_seq(NULL, "news"), 0, "the default app's news is another channel");
    cr_expect_eq(history_seq("1", "news"), 0, "--app naming the default app is the bare name");

    long long one =
        ingress_until_sequenced("belfry:publish:news", "1", "news", "{\"event\":\"E\",\"data\":2}");
    cr_assert_gt(one, 0, "the default app's news was never sequenced");
    cr_expect_eq(history_seq(NULL, "news"), one);
    cr_expect_eq(history_seq("2", "news"), two, "app 2's channel is untouched");

    json_t *j = cli_run_json("history", "news", "--app", "2", "--redis", C->redis_url);
    json_t *m = json_object_get(j, "messages");
    cr_assert_eq((long long)json_array_size(m), two);
    for (size_t i = 0; i < json_array_size(m); i++)
        cr_expect_eq(json_integer_value(json_object_get(json_array_get(m, i), "data")), 1,
                     "app 2's history holds only app 2's publishes");
    cr_expect_str_eq(json_string_value(json_object_get(j, "channel")), "news",
                     "the output names the channel as the app knows it");
    json_decref(j);
}

Test(cli_apps, owner_hashes_the_scoped_name_and_global_app_comes_first)
{
    bf_ring *ring = cli_ring(C, "belfry:");
    /* --app before the command, like --redis */
    json_t *j = cli_run_json("--app", "2", "owner", "news", "--redis", C->redis_url);
    cr_expect_str_eq(json_string_value(json_object_get(j, "owner")),
                     bf_ring_owner(ring, "2/news", 6));
    json_decref(j);
    j = cli_run_json("owner", "news", "--app", "1", "--redis", C->redis_url);
    cr_expect_str_eq(json_string_value(json_object_get(j, "owner")),
                     bf_ring_owner(ring, "news", 4));
    json_decref(j);
    bf_ring_free(ring);
}

Test(cli_apps, a_bad_app_id_is_a_usage_error)
{
    cli_res r = cli_run("presence", "presence-x", "--app", "a/b", "--redis", C->redis_url);
    cr_expect_eq(r.status, 2, "%s", r.err);
    cr_expect(strstr(r.err, "--app 'a/b': an app id uses only"), "%s", r.err);
    cli_res_free(&r);
    r = cli_run("nodes", "--app", "2", "--redis", C->redis_url);
    cr_expect_eq(r.status, 2, "nodes addresses no channel: %s", r.err);
    cr_expect(strstr(r.err, "belfryctl nodes: unknown flag '--app'"), "%s", r.err);
    cli_res_free(&r);
}

typedef struct app_seq {
    const char *app, *channel;
} app_seq;

static bool sequenced(void *arg)
{
    app_seq *a = arg;
    return history_seq(a->app, a->channel) > 0;
}

Test(cli_apps, publish_to_another_app_goes_through_its_ingress)
{
    /* the ingress is at-most-once while the ring forms: publish until app 2 has the message */
    app_seq two = {"2", "orders"};
    bool ok = false;
    for (int i = 0; i < 50 && !ok; i++) {
        cli_res r = cli_run("publish", "orders", "Shipped", "{\"id\":7}", "--app", "2", "--redis",
                            C->redis_url, "--json");
        cr_assert_eq(r.status, 0, "%s", r.err);
        json_t *j = json_loads(r.out, 0, NULL);
        cr_expect_str_eq(json_string_value(json_object_get(j, "app")), "2");
        json_decref(j);
        cli_res_free(&r);
        ok = bf_wait_for(sequenced, &two, 200);
    }
    cr_assert(ok, "app 2's orders never got the message");
    cr_expect_eq(history_seq(NULL, "orders"), 0, "the default app's orders is untouched");
    json_t *j = cli_run_json("history", "orders", "--app", "2", "--redis", C->redis_url);
    json_t *m = json_array_get(json_object_get(j, "messages"), 0);
    cr_expect_str_eq(json_string_value(json_object_get(m, "event")), "Shipped");
    cr_expect_eq(json_integer_value(json_object_get(json_object_get(m, "data"), "id")), 7);
    json_decref(j);
}

Test(cli_apps, the_native_paths_refuse_another_app)
{
    cli_res r = cli_run("publish", "orders", "E", "{}", "--app", "2", "--http",
                        "http://127.0.0.1:1", "--api-key", "k", "--redis", C->redis_url);
    cr_expect_eq(r.status, 2, "%s", r.err);
    cr_expect(strstr(r.err, "the native HTTP API belongs to the default app"), "%s", r.err);
    cli_res_free(&r);
    r = cli_run("tail", "orders", "--app", "2", "--redis", C->redis_url);
    cr_expect_eq(r.status, 2, "%s", r.err);
    cr_expect(strstr(r.err, "tail speaks the native protocol"), "%s", r.err);
    cli_res_free(&r);
}

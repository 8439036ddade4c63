/* libbelfry's publisher without a cluster: channel naming, the event interface's defaults, the
 * default publisher, the environment provider, fakes and their failure messages, and per-channel
 * failures against transports that cannot be reached. */
#include <belfry/publisher.h>

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void fini(void)
{
    bf_publisher_restore(); /* no test leaves a default or fake mode behind */
}

TestSuite(publisher, .fini = fini, .timeout = 20);

/* ---- channels ---------------------------------------------------------------------------- */

Test(publisher, channel_constructors_give_wire_names)
{
    bf_channel c = bf_channel_public("orders");
    cr_expect(c.valid);
    cr_expect_eq(c.kind, BF_CHANNEL_PUBLIC);
    cr_expect_str_eq(c.name, "orders");
    c = bf_channel_private("orders.1");
    cr_expect(c.valid);
    cr_expect_str_eq(c.name, "private-orders.1");
    c = bf_channel_presence("room:42");
    cr_expect(c.valid);
    cr_expect_str_eq(c.name, "presence-room:42");
    c = bf_channel_private("private-orders.1"); /* already prefixed: kept */
    cr_expect(c.valid);
    cr_expect_str_eq(c.name, "private-orders.1");
    c = bf_channel_fmt(BF_CHANNEL_PRIVATE, "orders.%d", 7);
    cr_expect(c.valid);
    cr_expect_str_eq(c.name, "private-orders.7");
    c = bf_channel_public("a_b-c=d@e,f.g;h:i");
    cr_expect(c.valid, "every allowed punctuation byte");
    cr_expect_str_eq(bf_channel_kind_name(BF_CHANNEL_PRESENCE), "presence");
}

Test(publisher, invalid_channel_names_are_refused_with_the_rule)
{
    char err[BF_ERR_LEN];
    bf_channel c;
    cr_expect_eq(bf_channel_init(&c, BF_CHANNEL_PUBLIC, "", err, sizeof(err)), BF_EINVAL);
    cr_expect_str_eq(err, "channel name is empty (must be 1-164 bytes)");
    cr_expect_eq(bf_channel_init(&c, BF_CHANNEL_PUBLIC, "bad name", err, sizeof(err)), BF_EINVAL);
    cr_expect_str_eq(err, "channel name has a forbidden byte 0x20 at offset 3 (allowed: A-Z a-z "
                          "0-9 and _-=@,.;:)");
    cr_expect_not(c.valid);
    cr_expect_str_eq(c.name, "bad name", "the rejected name is kept for messages");
    cr_expect_eq(bf_channel_init(&c, BF_CHANNEL_PUBLIC, "private-x", err, sizeof(err)), BF_EINVAL);
    cr_expect_str_eq(err, "channel name 'private-x' has the private- prefix, which makes it a "
                          "private channel: use bf_channel_private()");
    cr_expect_eq(bf_channel_init(&c, BF_CHANNEL_PRIVATE, "presence-x", err, sizeof(err)),
                 BF_EINVAL);
    cr_expect_str_eq(err, "channel name 'presence-x' has the presence- prefix, which makes it a "
                          "presence channel: use bf_channel_presence()");
    cr_expect_not(bf_channel_public(NULL).valid);

    char name[200];
    memset(name, 'a', sizeof(name));
    name[164] = '\0';
    cr_expect(bf_channel_public(name).valid, "164 bytes is the limit");
    name[156] = '\0'; /* "private-" + 156 = 164 */
    cr_expect(bf_channel_private(name).valid);
    name[156] = 'a';
    name[157] = '\0';
    cr_expect_eq(bf_channel_init(&c, BF_CHANNEL_PRIVATE, name, err, sizeof(err)), BF_EINVAL);
    cr_expect(strstr(err, "is 165 bytes (must be 1-164 bytes)") != NULL, "%s", err);
    memset(name, 'a', sizeof(name));
    name[170] = '\0'; /* longer than the formatting buffer: still refused, not cut to fit */
    cr_expect_not(bf_channel_fmt(BF_CHANNEL_PUBLIC, "%s", name).valid);
}

/* ---- an event class with every option ---------------------------------------------------- */

typedef struct test_event {
    bf_event base;
    int id;
    int nchannels;            /* channels to return, or a negative error */
    const bf_channel *extra;  /* a channel appended when set */
    const char *as;           /* broadcast_as result */
    const char *payload_text; /* for broadcast_with_json */
} test_event;

static int ev_on(const bf_event *e, bf_channel *out, size_t cap)
{
    const test_event *t = (const test_event *)e;
    if (t->nchannels < 0) return t->nchannels;
    cr_assert_eq(cap, BF_EVENT_MAX_CHANNELS);
    int n = 0;
    for (; n < t->nchannels && n < (int)cap; n++)
        out[n] = n % 2 ? bf_channel_fmt(BF_CHANNEL_PRIVATE, "orders.%d", t->id)
                       : bf_channel_public("dashboard");
    if (t->extra) out[n++] = *t->extra;
    return t->nchannels > (int)cap ? t->nchannels : n;
}

static json_t *ev_with(const bf_event *e)
{
    return json_pack("{s:i}", "id", ((const test_event *)e)->id);
}

static char *ev_with_json(const bf_event *e)
{
    const char *s = ((const test_event *)e)->payload_text;
    return s ? strdup(s) : NULL;
}

static const char *ev_as(const bf_event *e)
{
    return ((const test_event *)e)->as;
}

static const bf_event_class ORDER_SHIPPED = {
    .type_name = "OrderShipped", .broadcast_on = ev_on, .broadcast_with = ev_with};
static const bf_event_class RENAMED = {.type_name = "UserJoined",
                                       .broadcast_on = ev_on,
                                       .broadcast_with = ev_with,
                                       .broadcast_as = ev_as};
static const bf_event_class AS_TEXT = {
    .type_name = "AsText", .broadcast_on = ev_on, .broadcast_with_json = ev_with_json};

Test(publisher, event_name_defaults_to_the_type_name)
{
    test_event a = {{&ORDER_SHIPPED}, 1, 1, NULL, NULL, NULL};
    cr_expect_str_eq(bf_event_name(&a.base), "OrderShipped");
    test_event b = {{&RENAMED}, 1, 1, NULL, "user.joined", NULL};
    cr_expect_str_eq(bf_event_name(&b.base), "user.joined");
    b.as = NULL; /* broadcast_as may decline */
    cr_expect_str_eq(bf_event_name(&b.base), "UserJoined");
    cr_expect_null(bf_event_name(NULL));
}

/* ---- the default publisher --------------------------------------------------------------- */

Test(publisher, get_without_a_default_says_what_to_do)
{
    char err[BF_ERR_LEN];
    cr_expect_null(bf_publisher_get(err));
    cr_expect_str_eq(err, "no default publisher: call bf_publisher_set() or "
                          "bf_publisher_register() first");
    cr_expect_null(bf_publisher_get(NULL));
}

Test(publisher, set_takes_ownership_and_replaces)
{
    bf_publisher_opts o = {.url = "http://127.0.0.1:1", .api_key = "k"};
    bf_publisher *a = bf_publisher_new(&o, NULL), *b = bf_publisher_new(&o, NULL);
    cr_assert(a && b);
    bf_publisher_set(a);
    cr_expect_eq(bf_publisher_get(NULL), a);
    bf_publisher_set(a); /* the same again: nothing happens */
    bf_publisher_set(b); /* frees a (ASan would see a leak or a double free otherwise) */
    cr_expect_eq(bf_publisher_get(NULL), b);
    bf_publisher_free(b); /* freeing the default also clears it */
    cr_expect_null(bf_publisher_get(NULL));
    bf_publisher_set(bf_publisher_new(&o, NULL));
    bf_publisher_set(NULL);
    cr_expect_null(bf_publisher_get(NULL));
}

Test(publisher, constructor_errors)
{
    char err[BF_ERR_LEN];
    bf_publisher_opts o = {.url = "ftp://h:1"};
    cr_expect_null(bf_publisher_new(&o, err));
    cr_expect_str_eq(err, "URL scheme 'ftp' is not supported here (expected http|redis)");
    o.url = "http://127.0.0.1:8090";
    cr_expect_null(bf_publisher_new(&o, err));
    cr_expect_str_eq(err, "an http:// publisher needs an API key (one line, not empty)");
    o.url = "redis://127.0.0.1:6379/x";
    cr_expect_null(bf_publisher_new(&o, err));
    cr_expect(strstr(err, "invalid database number") != NULL, "%s", err);
    o.url = "sentinel://127.0.0.1:26379/mymaster";
    cr_expect_null(bf_publisher_new(&o, err));
    cr_expect(strstr(err, "Sentinel") != NULL, "%s", err);
    o.url = "redis://127.0.0.1:6379";
    o.redis_prefix = "{app}:"; /* the daemons refuse it: it would move every key's hash tag */
    cr_expect_null(bf_publisher_new(&o, err));
    cr_expect_str_eq(err, "redis prefix may not contain '{' or '}'");
    o.redis_prefix = NULL;
    o.url = "http://127.0.0.1:99999";
    o.api_key = "k";
    cr_expect_null(bf_publisher_new(&o, err));
    cr_expect(strstr(err, "bad port") != NULL, "%s", err);
    cr_expect_null(bf_publisher_new(NULL, err));
}

/* ---- the environment --------------------------------------------------------------------- */

static const char *fake_env(const char *name, void *arg)
{
    for (const char *const *kv = arg; *kv; kv += 2)
        if (!strcmp(kv[0], name)) return kv[1];
    return NULL;
}

Test(publisher, from_env_reads_the_named_variables)
{
    char err[BF_ERR_LEN];
    const char *none[] = {NULL};
    bf_publisher_env env = {.lookup = fake_env, .lookup_arg = none};
    cr_expect_null(bf_publisher_from_env(&env, err));
    cr_expect_str_eq(err, "BELFRY_URL is not set (expected http://HOST:PORT or redis://HOST:PORT)");

    const char *nokey[] = {"BELFRY_URL", "http://127.0.0.1:8090", NULL};
    env.lookup_arg = nokey;
    cr_expect_null(bf_publisher_from_env(&env, err));
    cr_expect_str_eq(err, "BELFRY_API_KEY is not set (required with an http:// BELFRY_URL)");

    const char *bad[] = {"BELFRY_URL", "gopher://x", NULL};
    env.lookup_arg = bad;
    cr_expect_eq(bf_publisher_register(&env, err), BF_EINVAL);
    cr_expect_str_eq(err, "BELFRY_URL: URL scheme 'gopher' is not supported here (expected "
                          "http|redis)");

    const char *renamed[] = {"BROADCAST_URL", "redis://:secret@127.0.0.1:6379/2",
                             "BROADCAST_PREFIX", "app:", NULL};
    env = (bf_publisher_env){.url_var = "BROADCAST_URL",
                             .prefix_var = "BROADCAST_PREFIX",
                             .lookup = fake_env,
                             .lookup_arg = renamed};
    cr_expect_eq(bf_publisher_register(&env, err), 0, "%s", err);
    cr_expect_not_null(bf_publisher_get(NULL));

    /* the real environment, by default */
    setenv("BELFRY_URL", "http://127.0.0.1:8090", 1);
    setenv("BELFRY_API_KEY", "k", 1);
    bf_publisher *p = bf_publisher_from_env(NULL, err);
    cr_expect_not_null(p, "%s", err);
    bf_publisher_free(p);
}

/* ---- fakes ------------------------------------------------------------------------------- */

Test(publisher, fake_records_per_channel_and_installs_a_default)
{
    cr_assert_eq(bf_publisher_fake(), 0);
    cr_expect(bf_publisher_faking());
    bf_publisher *p = bf_publisher_get(NULL);
    cr_assert_not_null(p, "fake() installs a default");
    test_event ev = {{&ORDER_SHIPPED}, 7, 2, NULL, NULL, NULL};
    bf_broadcast_report rep;
    cr_expect_eq(bf_publisher_broadcast(p, &ev.base, &rep), 0, "%s", rep.error);
    cr_expect_eq(rep.n, 2);
    cr_expect_eq(rep.failed, 0);
    bf_broadcast_report_deinit(&rep);
    test_event ev2 = {{&RENAMED}, 8, 1, NULL, "user.joined", NULL};
    cr_expect_eq(bf_publisher_broadcast(p, &ev2.base, NULL), 0);
    cr_expect_eq(bf_publisher_publish(p, "presence-room", "Ping", "[1]", NULL), 0);

    size_t n;
    const bf_recorded *r = bf_publisher_recorded(&n);
    cr_assert_eq(n, 4);
    cr_expect_str_eq(r[0].type_name, "OrderShipped");
    cr_expect_str_eq(r[0].event, "OrderShipped");
    cr_expect_str_eq(r[0].channel, "dashboard");
    cr_expect_str_eq(r[0].data, "{\"id\":7}");
    cr_expect_str_eq(r[1].channel, "private-orders.7");
    cr_expect_str_eq(r[2].type_name, "UserJoined");
    cr_expect_str_eq(r[2].event, "user.joined");
    cr_expect_str_eq(r[3].type_name, "Ping");
    cr_expect_str_eq(r[3].channel, "presence-room");
    cr_expect_str_eq(r[3].data, "[1]");

    cr_expect_eq(bf_publisher_assert_broadcast("OrderShipped", NULL, 0), 0);
    cr_expect_eq(bf_publisher_assert_broadcast("UserJoined", NULL, 0), 0);
    cr_expect_eq(bf_publisher_assert_broadcast_on("private-orders.7", NULL, 0), 0);
    cr_expect_eq(bf_publisher_assert_broadcast_on("dashboard", NULL, 0), 0);

    char msg[BF_ERR_LEN];
    cr_expect_eq(bf_publisher_assert_broadcast("OrderCancelled", msg, sizeof(msg)), BF_ENOTFOUND);
    cr_expect_str_eq(msg, "expected an event of type OrderCancelled to be broadcast; broadcasts "
                          "recorded: OrderShipped on dashboard, OrderShipped on private-orders.7, "
                          "UserJoined as user.joined on dashboard, Ping on presence-room");
    cr_expect_eq(bf_publisher_assert_broadcast_on("private-orders.8", msg, sizeof(msg)),
                 BF_ENOTFOUND);
    cr_expect(!strncmp(msg,
                       "expected a broadcast on channel private-orders.8; broadcasts "
                       "recorded: OrderShipped on dashboard, ",
                       95),
              "%s", msg);

    /* a short buffer ends in "..." rather than silently */
    char small[48];
    bf_publisher_assert_broadcast("Nope", small, sizeof(small));
    cr_expect_str_eq(small, "expected an event of type Nope to be broadca...");

    /* fake() again forgets; restore() clears the default */
    cr_assert_eq(bf_publisher_fake(), 0);
    cr_expect_null(bf_publisher_recorded(&n));
    cr_expect_eq(n, 0);
    cr_expect_eq(bf_publisher_assert_broadcast("OrderShipped", msg, sizeof(msg)), BF_ENOTFOUND);
    cr_expect_str_eq(msg, "expected an event of type OrderShipped to be broadcast; broadcasts "
                          "recorded: none");
    bf_publisher_restore();
    cr_expect_not(bf_publisher_faking());
    cr_expect_null(bf_publisher_get(NULL));
    cr_expect_eq(bf_publisher_assert_broadcast("OrderShipped", msg, sizeof(msg)), BF_EINVAL);
    cr_expect_str_eq(msg, "bf_publisher_assert_broadcast needs fake mode: call bf_publisher_fake() "
                          "first");
    cr_expect_eq(bf_publisher_assert_broadcast_on("x", msg, sizeof(msg)), BF_EINVAL);
}

Test(publisher, faking_records_through_a_real_publisher_too)
{
    bf_publisher_opts o = {.url = "http://127.0.0.1:1", .api_key = "k"}; /* nothing listens */
    bf_publisher_set(bf_publisher_new(&o, NULL));
    cr_assert_eq(bf_publisher_fake(), 0);
    test_event ev = {{&ORDER_SHIPPED}, 1, 1, NULL, NULL, NULL};
    cr_expect_eq(bf_publisher_broadcast(bf_publisher_get(NULL), &ev.base, NULL), 0);
    cr_expect_eq(bf_publisher_assert_broadcast("OrderShipped", NULL, 0), 0);
}

Test(publisher, broadcasts_are_validated_in_fake_mode_as_for_real)
{
    cr_assert_eq(bf_publisher_fake(), 0);
    bf_publisher *p = bf_publisher_get(NULL);
    bf_broadcast_report rep;

    /* a bad channel fails alone; the others are still recorded */
    bf_channel bad = bf_channel_public("no spaces");
    test_event ev = {{&ORDER_SHIPPED}, 3, 2, &bad, NULL, NULL};
    cr_expect_eq(bf_publisher_broadcast(p, &ev.base, &rep), BF_EINVAL);
    cr_assert_eq(rep.n, 3);
    cr_expect_eq(rep.failed, 1);
    cr_expect_eq(rep.results[0].rc, 0);
    cr_expect_eq(rep.results[1].rc, 0);
    cr_expect_eq(rep.results[2].rc, BF_EINVAL);
    cr_expect_str_eq(rep.results[2].channel, "no spaces");
    cr_expect_str_eq(rep.results[2].code, "bad_channel");
    cr_expect(strstr(rep.results[2].message, "forbidden byte 0x20") != NULL, "%s",
              rep.results[2].message);
    bf_broadcast_report_deinit(&rep);
    size_t n;
    bf_publisher_recorded(&n);
    cr_expect_eq(n, 2);

    /* a hand-made channel without its prefix is caught */
    bf_channel forged = {.kind = BF_CHANNEL_PRIVATE, .valid = true, .name = "orders"};
    test_event ev1 = {{&ORDER_SHIPPED}, 3, 0, &forged, NULL, NULL};
    cr_expect_eq(bf_publisher_broadcast(p, &ev1.base, &rep), BF_EINVAL);
    cr_expect_str_eq(rep.results[0].message,
                     "channel name 'orders' lacks the private- prefix of a private channel");
    bf_broadcast_report_deinit(&rep);

    /* reserved event names are refused before anything is recorded */
    test_event ev2 = {{&RENAMED}, 1, 1, NULL, "presence:join", NULL};
    cr_expect_eq(bf_publisher_broadcast(p, &ev2.base, &rep), BF_EINVAL);
    cr_expect_eq(rep.n, 0);
    cr_expect_str_eq(rep.error, "\"event\" uses a name reserved for server events (presence:*, "
                                "belfry:*, whisper, error)");
    bf_broadcast_report_deinit(&rep);

    /* broadcast_on may refuse, or return too many */
    test_event ev3 = {{&ORDER_SHIPPED}, 1, BF_ENOTFOUND, NULL, NULL, NULL};
    cr_expect_eq(bf_publisher_broadcast(p, &ev3.base, &rep), BF_ENOTFOUND);
    cr_expect_str_eq(rep.error, "OrderShipped.broadcast_on failed: not found");
    bf_broadcast_report_deinit(&rep);
    test_event ev4 = {{&ORDER_SHIPPED}, 1, BF_EVENT_MAX_CHANNELS + 1, NULL, NULL, NULL};
    cr_expect_eq(bf_publisher_broadcast(p, &ev4.base, &rep), BF_ERANGE);
    bf_broadcast_report_deinit(&rep);

    /* the payload as text must be JSON; NULL means it could not be built */
    test_event ev5 = {{&AS_TEXT}, 1, 1, NULL, NULL, "{\"a\":"};
    cr_expect_eq(bf_publisher_broadcast(p, &ev5.base, &rep), BF_EINVAL);
    cr_expect(!strncmp(rep.error, "payload is not JSON: ", 21), "%s", rep.error);
    bf_broadcast_report_deinit(&rep);
    test_event ev6 = {{&AS_TEXT}, 1, 1, NULL, NULL, NULL};
    cr_expect_eq(bf_publisher_broadcast(p, &ev6.base, &rep), BF_ENOMEM);
    cr_expect_str_eq(rep.error, "AsText.broadcast_with_json returned NULL");
    bf_broadcast_report_deinit(&rep);
    test_event ev7 = {{&AS_TEXT}, 1, 1, NULL, NULL, "\"just a string\""};
    cr_expect_eq(bf_publisher_broadcast(p, &ev7.base, NULL), 0);
    const bf_recorded *r = bf_publisher_recorded(&n);
    cr_expect_str_eq(r[n - 1].data, "\"just a string\"");

    /* a class must be complete */
    static const bf_event_class BOTH = {.type_name = "Both",
                                        .broadcast_on = ev_on,
                                        .broadcast_with = ev_with,
                                        .broadcast_with_json = ev_with_json};
    test_event ev8 = {{&BOTH}, 1, 1, NULL, NULL, "{}"};
    cr_expect_eq(bf_publisher_broadcast(p, &ev8.base, &rep), BF_EINVAL);
    cr_expect_str_eq(rep.error, "event class Both must set exactly one of broadcast_with and "
                                "broadcast_with_json");
    bf_broadcast_report_deinit(&rep);
    cr_expect_eq(bf_publisher_broadcast(NULL, &ev.base, &rep), BF_EINVAL);
    cr_expect_str_eq(rep.error, "publisher is NULL (did bf_publisher_get() fail?)");
    bf_broadcast_report_deinit(&rep);
}

/* ---- unreachable transports -------------------------------------------------------------- */

/* A loopback port nothing listens on. */
static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof(sa);
    cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    getsockname(fd, (struct sockaddr *)&sa, &sl);
    close(fd);
    return ntohs(sa.sin_port);
}

Test(publisher, an_unreachable_router_fails_every_channel_with_the_reason)
{
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", closed_port());
    bf_publisher_opts o = {.url = url, .api_key = "k"};
    bf_publisher *p = bf_publisher_new(&o, NULL);
    cr_assert_not_null(p);
    test_event ev = {{&ORDER_SHIPPED}, 5, 2, NULL, NULL, NULL};
    bf_broadcast_report rep;
    cr_expect_eq(bf_publisher_broadcast(p, &ev.base, &rep), BF_EIO);
    cr_assert_eq(rep.n, 2);
    cr_expect_eq(rep.failed, 2);
    for (size_t i = 0; i < 2; i++) {
        cr_expect_eq(rep.results[i].rc, BF_EIO);
        cr_expect_eq(rep.results[i].status, 0);
        cr_expect_str_eq(rep.results[i].code, "connect_failed");
        cr_expect(strstr(rep.results[i].message, "Connection refused") != NULL, "%s",
                  rep.results[i].message);
    }
    cr_expect_str_eq(rep.results[1].channel, "private-orders.5");
    bf_broadcast_report_deinit(&rep);
    bf_publisher_free(p);
}

Test(publisher, an_unreachable_redis_fails_every_channel_with_the_reason)
{
    char url[64];
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d", closed_port());
    bf_publisher_opts o = {.url = url};
    bf_publisher *p = bf_publisher_new(&o, NULL);
    cr_assert_not_null(p);
    test_event ev = {{&ORDER_SHIPPED}, 5, 2, NULL, NULL, NULL};
    bf_broadcast_report rep;
    cr_expect_eq(bf_publisher_broadcast(p, &ev.base, &rep), BF_EIO);
    cr_expect_eq(rep.failed, 2);
    for (size_t i = 0; i < rep.n; i++) {
        cr_expect_str_eq(rep.results[i].code, "connect_failed");
        cr_expect(strstr(rep.results[i].message, "Connection refused") != NULL, "%s",
                  rep.results[i].message);
    }
    bf_broadcast_report_deinit(&rep);
    bf_publisher_free(p);
}

Test(publisher, a_router_that_never_answers_times_out)
{
    /* listening but never accepting: the connect succeeds (backlog), the answer never comes */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof(sa);
    cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    cr_assert_eq(listen(fd, 8), 0);
    getsockname(fd, (struct sockaddr *)&sa, &sl);
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", ntohs(sa.sin_port));
    bf_publisher_opts o = {.url = url, .api_key = "k", .timeout_ms = 200};
    bf_publisher *p = bf_publisher_new(&o, NULL);
    bf_channel_result res;
    cr_expect_eq(bf_publisher_publish(p, "orders", "E", "{}", &res), BF_ETIMEDOUT);
    cr_expect_str_eq(res.code, "timeout");
    cr_expect(strstr(res.message, "timed out") != NULL, "%s", res.message);
    bf_publisher_free(p);
    close(fd);
}

/* Chaos: presence stays exact when a channel's owner dies (issue 23).
 *
 * Three gateways, two routers, one presence channel. For CHURN_MS, 60 users open and close
 * connections at random on the live gateways (clean closes and abrupt ones); at 5 s the router
 * that owns the channel (by the ring over the live routers, as `belfryctl owner` computes it) is
 * killed with SIGKILL, at 8 s a gateway, which is restarted under the same node id at 12 s (before
 * its membership expires, so only its reconciliation can clear what it left). The truth is simple:
 * the users that hold a live connection. After the churn, within the reconcile interval plus the
 * sweep bound, three views must equal it: the member list an observer derives from presence:here,
 * presence:join and presence:leave; GET /presence/{channel}; and a fresh connection's
 * presence:here. GET /channels/{channel} must count the live connections. Per user the observer's
 * events must alternate join/leave, throughout.
 *
 * BELFRY_CHAOS_SEED fixes the random choices (the seed is printed). `make chaos-presence-repeat
 * N=20` runs it N times. */
#include "../integration/common.h"

#include "ring.h"

#include <signal.h>

#define CH "presence-churn"
#define NGW 3
#define NRT 2
#define NUSERS 60
#define MAXCONN 128
#define CHURN_MS 20000
#define RECONCILE_S 2
/* gateway membership ttl 5 s + sweep interval 2 s + heartbeat 1 s, the reconcile interval, and
 * slack for a loaded machine */
#define CONVERGE_MS ((5000 + 2000 + 1000 + RECONCILE_S * 1000) + 8000)

TestSuite(chaos_presence_churn, .timeout = 170);

typedef struct conn {
    bf_ws *w;
    int gw, user;
} conn;

static bf_cluster *C;
static conn conns[MAXCONN];
static int nconns;
static bool gw_dead[NGW];

/* The observer's view: members (user -> present) derived from its event stream. */
static bool seen[NUSERS + 2];
static int violations;
static long long last_seq;
static bf_ws *observer;

static int user_index(const char *id)
{
    if (!strcmp(id, "observer")) return NUSERS;
    if (!strcmp(id, "probe")) return NUSERS + 1;
    int u;
    if (sscanf(id, "u%d", &u) == 1 && u >= 0 && u < NUSERS) return u;
    return -1;
}

static bf_ws *open_conn(int gw, const char *user)
{
    char *t = it_token(user, "[\"" CH "\"]", 600);
    char path[4096];
    snprintf(path, sizeof(path), "/ws/" CH "?token=%s", t);
    free(t);
    int status;
    return bf_ws_connect(C->gateways[gw].port, path, NULL, &status, NULL, 3000);
}

static void observe(json_t *j)
{
    const char *ev = json_string_value(json_object_get(j, "event"));
    json_t *data = json_object_get(j, "data");
    long long seq = json_integer_value(json_object_get(j, "seq"));
    if (!ev) return;
    if (seq <= last_seq) {
        violations++;
        fprintf(stderr, "observer: seq %lld after %lld (%s)\n", seq, last_seq, ev);
    }
    last_seq = seq;
    if (!strcmp(ev, "presence:here")) {
        json_t *members = json_object_get(data, "members");
        for (size_t i = 0; i < json_array_size(members); i++) {
            int u =
                user_index(json_string_value(json_object_get(json_array_get(members, i), "id")));
            if (u >= 0) seen[u] = true;
        }
        return;
    }
    bool join = !strcmp(ev, "presence:join");
    if (!join && strcmp(ev, "presence:leave")) return;
    const char *id = json_string_value(json_object_get(json_object_get(data, "member"), "id"));
    int u = id ? user_index(id) : -1;
    if (u < 0) {
        violations++;
        fprintf(stderr, "observer: %s of an unknown member %s\n", ev, id ? id : "(none)");
        return;
    }
    if (seen[u] == join) { /* a join of a member, or a leave of a non-member */
        violations++;
        fprintf(stderr, "observer: %s of %s, which is %s a member (seq %lld)\n", ev, id,
                join ? "already" : "not", seq);
    }
    seen[u] = join;
}

/* Reads what the observer has received within wait_ms. */
static void drain_observer(int wait_ms)
{
    bf_ws_msg m;
    while (bf_ws_recv(observer, &m, wait_ms) == 0) {
        if (m.opcode == 1) {
            json_t *j = json_loads(m.data, 0, NULL);
            if (j) observe(j);
            json_decref(j);
        }
        bf_ws_msg_free(&m);
        wait_ms = 0;
    }
}

/* Reads and discards what a churn connection has received (its queue must not fill up). */
static void drain_conn(conn *c)
{
    bf_ws_msg m;
    while (bf_ws_recv(c->w, &m, 0) == 0) bf_ws_msg_free(&m);
}

static void truth(bool *present)
{
    memset(present, 0, sizeof(bool) * (NUSERS + 2));
    for (int i = 0; i < nconns; i++) present[conns[i].user] = true;
    present[NUSERS] = true; /* the observer */
}

static void drop_conn(int i, bool clean)
{
    if (clean)
        bf_ws_close(conns[i].w);
    else
        bf_ws_abort(conns[i].w);
    conns[i] = conns[--nconns];
}

static void churn_step(void)
{
    int live[NGW], nlive = 0;
    for (int g = 0; g < NGW; g++)
        if (!gw_dead[g]) live[nlive++] = g;
    bool open = nconns < 20 || (nconns < MAXCONN - 1 && rand() % 100 < 52);
    if (open) {
        int gw = live[rand() % nlive], u = rand() % NUSERS;
        char user[16];
        snprintf(user, sizeof(user), "u%d", u);
        bf_ws *w = open_conn(gw, user);
        if (!w) return; /* refused (a gateway starting up): not a connection */
        conns[nconns++] = (conn){w, gw, u};
    } else {
        drop_conn(rand() % nconns, rand() % 2);
    }
}

/* The channel's owner among the routers still running, by the shared ring. */
static int owner_router(void)
{
    const char *ids[NRT];
    int idx[NRT], n = 0;
    for (int i = 0; i < NRT; i++)
        if (C->routers[i].pid > 0) {
            ids[n] = C->routers[i].id;
            idx[n++] = i;
        }
    bf_ring *r = bf_ring_new();
    bf_ring_set(r, ids, (size_t)n, 0);
    const char *o = bf_ring_owner(r, CH, strlen(CH));
    int out = -1;
    for (int i = 0; o && i < n; i++)
        if (!strcmp(ids[i], o)) out = idx[i];
    bf_ring_free(r);
    return out;
}

/* ---- the three views ---------------------------------------------------------------------- */

static void format_set(const bool *s, char *out, size_t cap)
{
    out[0] = '\0';
    for (int u = 0; u < NUSERS + 1; u++) {
        if (!s[u]) continue;
        char name[16];
        if (u == NUSERS)
            snprintf(name, sizeof(name), "observer");
        else
            snprintf(name, sizeof(name), "u%d", u);
        snprintf(out + strlen(out), cap - strlen(out), "%s%s", *out ? "," : "", name);
    }
}

static bool members_of(json_t *members, bool *out)
{
    memset(out, 0, sizeof(bool) * (NUSERS + 2));
    if (!json_is_array(members)) return false;
    for (size_t i = 0; i < json_array_size(members); i++) {
        int u = user_index(json_string_value(json_object_get(json_array_get(members, i), "id")));
        if (u < 0) return false;
        out[u] = true;
    }
    out[NUSERS + 1] = false; /* the probe is not part of the truth */
    return true;
}

static bool http_view(bool *out)
{
    int status;
    char *body = it_http_get(C, "/presence/" CH, &status);
    json_t *j = status == 200 ? json_loads(body, 0, NULL) : NULL;
    bool ok = j && members_of(json_object_get(j, "members"), out);
    json_decref(j);
    free(body);
    return ok;
}

static bool fresh_view(bool *out)
{
    bf_ws *w = open_conn(1, "probe");
    if (!w) return false;
    bf_ws_msg m;
    bool ok = false;
    if (bf_ws_recv(w, &m, 5000) == 0) {
        json_t *j = json_loads(m.data, 0, NULL);
        const char *ev = json_string_value(json_object_get(j, "event"));
        if (ev && !strcmp(ev, "presence:here"))
            ok = members_of(json_object_get(json_object_get(j, "data"), "members"), out);
        json_decref(j);
        bf_ws_msg_free(&m);
    }
    bf_ws_close(w);
    return ok;
}

static long long live_count(void)
{
    int status;
    char *body = it_http_get(C, "/channels/" CH, &status);
    json_t *j = status == 200 ? json_loads(body, 0, NULL) : NULL;
    long long n = j ? json_integer_value(json_object_get(j, "subscription_count")) : -1;
    json_decref(j);
    free(body);
    return n;
}

static bool same(const bool *a, const bool *b)
{
    for (int u = 0; u <= NUSERS; u++)
        if (a[u] != b[u]) return false;
    return true;
}

Test(chaos_presence_churn, presence_is_exact_after_an_owner_and_a_gateway_die)
{
    char interval[16];
    snprintf(interval, sizeof(interval), "%d", RECONCILE_S);
    const char *gw_args[] = {"--presence-reconcile-interval", interval, "--log-level", "info",
                             NULL};
    const char *rt_args[] = {"--log-level", "info", NULL};
    bf_cluster_opts o = {.routers = NRT,
                         .gateways = NGW,
                         .jwt_secret = IT_SECRET,
                         .gateway_args = gw_args,
                         .router_args = rt_args};
    C = bf_cluster_start(&o);
    cr_assert_not_null(C);
    const char *s = getenv("BELFRY_CHAOS_SEED");
    unsigned seed = s && *s ? (unsigned)strtoul(s, NULL, 10) : (unsigned)bf_ms();
    srand(seed);
    int victim_gw = 1 + rand() % (NGW - 1); /* the observer and the probe stay on 0 and 1 */
    if (victim_gw == 1) victim_gw = 2;
    fprintf(stderr, "chaos_presence_churn: seed %u, will kill the owner router and gateway %d\n",
            seed, victim_gw);

    observer = open_conn(0, "observer");
    cr_assert_not_null(observer);
    drain_observer(2000);
    cr_assert(seen[NUSERS], "the observer's presence:here lists itself");

    long long t0 = bf_ms();
    bool router_killed = false, gw_killed = false, gw_restarted = false;
    int opened = 0;
    while (bf_ms() - t0 < CHURN_MS) {
        long long t = bf_ms() - t0;
        if (!router_killed && t >= 5000) {
            int victim = owner_router();
            cr_assert_geq(victim, 0);
            fprintf(stderr, "chaos_presence_churn: %lld ms: SIGKILL router %s (owner of " CH ")\n",
                    t, C->routers[victim].id);
            bf_cluster_signal_router(C, victim, SIGKILL);
            router_killed = true;
        }
        if (!gw_killed && t >= 8000) {
            fprintf(stderr, "chaos_presence_churn: %lld ms: SIGKILL gateway %d\n", t, victim_gw);
            bf_cluster_signal_gateway(C, victim_gw, SIGKILL);
            gw_dead[victim_gw] = true;
            for (int i = nconns - 1; i >= 0; i--)
                if (conns[i].gw == victim_gw) drop_conn(i, false);
            gw_killed = true;
        }
        if (!gw_restarted && t >= 12000) {
            fprintf(stderr, "chaos_presence_churn: %lld ms: restarting gateway %d\n", t, victim_gw);
            cr_assert_eq(bf_cluster_restart_gateway(C, victim_gw), 0);
            gw_dead[victim_gw] = false;
            gw_restarted = true;
        }
        int before = nconns;
        churn_step();
        opened += nconns > before;
        for (int i = 0; i < nconns; i++) drain_conn(&conns[i]);
        drain_observer(0);
        usleep((useconds_t)(5000 + rand() % 20000));
    }
    fprintf(stderr, "chaos_presence_churn: churn over: %d connections opened, %d open\n", opened,
            nconns);

    /* quiet: every view must reach the truth within the bound, and stay there */
    bool want[NUSERS + 2], obs[NUSERS + 2], http[NUSERS + 2], fresh[NUSERS + 2];
    truth(want);
    long long deadline = bf_ms() + CONVERGE_MS, converged = -1;
    bool ok_obs = false, ok_http = false, ok_fresh = false, ok_count = false;
    while (bf_ms() < deadline) {
        for (int i = 0; i < nconns; i++) drain_conn(&conns[i]);
        drain_observer(200);
        memcpy(obs, seen, sizeof(obs));
        obs[NUSERS + 1] = false;
        ok_obs = same(obs, want);
        ok_http = http_view(http) && same(http, want);
        ok_fresh = ok_http && ok_obs && fresh_view(fresh) && same(fresh, want);
        ok_count = live_count() == nconns + 1;
        if (ok_obs && ok_http && ok_fresh && ok_count) {
            converged = bf_ms() - t0 - CHURN_MS;
            break;
        }
        usleep(300000);
    }
    char a[1024], b[1024];
    format_set(want, a, sizeof(a));
    format_set(obs, b, sizeof(b));
    cr_expect(ok_obs, "observer's view differs from the truth:\n  truth    %s\n  observer %s", a,
              b);
    if (http_view(http)) {
        format_set(http, b, sizeof(b));
        cr_expect(ok_http, "GET /presence differs from the truth:\n  truth %s\n  http  %s", a, b);
    }
    cr_expect(ok_fresh, "a fresh connection's presence:here differs from the truth");
    if (!ok_count) {
        int per_gw[NGW] = {1, 0, 0}; /* the observer is on gateway 0 */
        for (int i = 0; i < nconns; i++) per_gw[conns[i].gw]++;
        char *redis = bf_redis_query(C, "HGETALL belfry:conns:{" CH "}");
        cr_expect(ok_count,
                  "GET /channels counts %lld connections, %d are open (%d, %d, %d on gateways "
                  "%s, %s, %s); conns:" CH " holds:\n%s",
                  live_count(), nconns + 1, per_gw[0], per_gw[1], per_gw[2], C->gateways[0].id,
                  C->gateways[1].id, C->gateways[2].id, redis ? redis : "(nothing)");
        free(redis);
        for (int g = 0; g < NGW; g++) {
            bf_http_resp r;
            if (bf_http(C->gateways[g].port, "GET", "/metrics", NULL, NULL, 0, &r, 3000)) continue;
            for (char *l = strtok(r.body, "\n"); l; l = strtok(NULL, "\n"))
                if (strstr(l, "connections{") || strstr(l, "repairs") || strstr(l, "reconcile") ||
                    strstr(l, "owner_op"))
                    if (l[0] != '#') fprintf(stderr, "gateway %d: %s\n", g, l);
            bf_http_resp_free(&r);
        }
    }
    fprintf(stderr, "chaos_presence_churn: views equal the truth %lld ms after the churn\n",
            converged);

    /* still equal a reconcile interval later (no late ghost, no late loss) */
    if (converged >= 0) {
        usleep((RECONCILE_S * 1000 + 1000) * 1000);
        drain_observer(200);
        memcpy(obs, seen, sizeof(obs));
        obs[NUSERS + 1] = false;
        cr_expect(same(obs, want), "the observer's view changed after converging");
        cr_expect(http_view(http) && same(http, want), "GET /presence changed after converging");
    }
    cr_expect_eq(violations, 0, "%d malformed observer events (see above)", violations);

    for (int i = nconns - 1; i >= 0; i--) drop_conn(i, true);
    bf_ws_close(observer);
    bool failed = !(ok_obs && ok_http && ok_fresh && ok_count) || violations;
    if (failed) C->keep_logs = true;
    cr_expect_eq(bf_cluster_stop_checked(C), 0, "a daemon did not exit cleanly");
}

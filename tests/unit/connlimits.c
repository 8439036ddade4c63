/* Unit tests for gateway/connlimits.h: the gateway's capacity and the per-IP and per-user limits,
 * with the open connection count coming from the gateway through the callback. */
#include "gateway/connlimits.h"

#include <criterion/criterion.h>
#include <string.h>

static uint64_t open_now;

static uint64_t open_fn(void *arg)
{
    cr_assert_eq(arg, &open_now);
    return *(uint64_t *)arg;
}

static bf_connlimits *make(uint64_t max, long long per_ip, long long per_user)
{
    open_now = 0;
    bf_connlimits_opts o = {max, per_ip, per_user, open_fn, &open_now};
    return bf_connlimits_new(&o);
}

static unsigned check(bf_connlimits *cl, const char *ip, const char *user, const char **code)
{
    char msg[128] = "";
    unsigned st = bf_connlimits_check(cl, ip, user, code, msg, sizeof(msg));
    if (st) cr_assert(msg[0], "a refusal explains itself");
    return st;
}

Test(connlimits, gateway_full_is_503_and_counted)
{
    bf_connlimits *cl = make(2, 0, 0);
    const char *code = NULL;
    open_now = 1;
    cr_assert_eq(check(cl, "10.0.0.1", NULL, &code), 0);
    open_now = 2;
    cr_assert_eq(check(cl, "10.0.0.1", NULL, &code), 503);
    cr_assert_str_eq(code, "gateway_full");
    cr_assert_eq(bf_connlimits_rejections(cl)[BF_GW_LIMIT_GATEWAY], 1);
    /* the listener's own refusals land in the same counter */
    (*bf_connlimits_full_counter(cl))++;
    cr_assert_eq(bf_connlimits_rejections(cl)[BF_GW_LIMIT_GATEWAY], 2);
    bf_connlimits_free(cl);
}

Test(connlimits, per_ip_counts_up_and_down)
{
    bf_connlimits *cl = make(100, 2, 0);
    const char *code = NULL;
    bf_connlimits_count(cl, "10.0.0.1", NULL, 1);
    cr_assert_eq(check(cl, "10.0.0.1", NULL, &code), 0);
    bf_connlimits_count(cl, "10.0.0.1", NULL, 1);
    cr_assert_eq(check(cl, "10.0.0.1", NULL, &code), 429);
    cr_assert_str_eq(code, "too_many_connections");
    cr_assert_eq(check(cl, "10.0.0.2", NULL, &code), 0, "another address has its own count");
    bf_connlimits_count(cl, "10.0.0.1", NULL, -1);
    cr_assert_eq(check(cl, "10.0.0.1", NULL, &code), 0, "a close frees a place");
    cr_assert_eq(bf_connlimits_rejections(cl)[BF_GW_LIMIT_IP], 1);
    cr_assert_eq(bf_connlimits_rejections(cl)[BF_GW_LIMIT_USER], 0);
    bf_connlimits_free(cl);
}

Test(connlimits, per_user_counts_only_users)
{
    bf_connlimits *cl = make(100, 0, 1);
    const char *code = NULL;
    bf_connlimits_count(cl, "10.0.0.1", "alice", 1);
    cr_assert_eq(check(cl, "10.0.0.1", "alice", &code), 429);
    cr_assert_eq(check(cl, "10.0.0.1", "bob", &code), 0);
    cr_assert_eq(check(cl, "10.0.0.1", NULL, &code), 0, "an anonymous connection has no user");
    cr_assert_eq(bf_connlimits_rejections(cl)[BF_GW_LIMIT_USER], 1);
    cr_assert_eq(bf_connlimits_rejections(cl)[BF_GW_LIMIT_IP], 0, "per-IP is off (0)");
    bf_connlimits_free(cl);
}

Test(connlimits, a_limit_of_zero_is_not_counted)
{
    bf_connlimits *cl = make(100, 0, 0);
    const char *code = NULL;
    for (int i = 0; i < 50; i++) bf_connlimits_count(cl, "10.0.0.1", "alice", 1);
    cr_assert_eq(check(cl, "10.0.0.1", "alice", &code), 0);
    for (int i = 0; i < 50; i++) bf_connlimits_count(cl, "10.0.0.1", "alice", -1);
    bf_connlimits_free(cl);
    bf_connlimits_free(NULL);
}

/* common/redis_url.c: the one parser of redis:// and sentinel:// addresses (daemons, belfryctl,
 * libbelfry's publisher). The basic redis:// forms are also covered through the config table in
 * tests/unit/config.c. */
#include "err.h"
#include "redis_url.h"

#include <criterion/criterion.h>
#include <string.h>

static char err[BF_ERR_LEN];

static bf_redis_url ok(const char *s)
{
    bf_redis_url u;
    err[0] = '\0';
    cr_assert_eq(bf_parse_redis_url(s, &u, err, sizeof(err)), 0, "'%s': %s", s, err);
    return u;
}

static void bad(const char *s, const char *want)
{
    bf_redis_url u;
    err[0] = '\0';
    cr_expect_eq(bf_parse_redis_url(s, &u, err, sizeof(err)), BF_EINVAL, "'%s' must fail", s);
    cr_expect(strstr(err, want) != NULL, "'%s': error '%s' lacks '%s'", s, err, want);
}

Test(redis_url, acl_user_and_password_percent_decoded)
{
    bf_redis_url u = ok("redis://belfry:s%40cr%3At@cache:6380/2");
    cr_expect_eq(u.kind, BF_REDIS_URL_SINGLE);
    cr_expect_str_eq(u.user, "belfry");
    cr_expect_str_eq(u.password, "s@cr:t");
    cr_expect_str_eq(u.host, "cache");
    cr_expect_eq(u.port, 6380);
    cr_expect_eq(u.db, 2);
    u = ok("redis://belfry:p@ss@cache");
    cr_expect_str_eq(u.user, "belfry");
    cr_expect_str_eq(u.password, "p@ss", "the last '@' ends the credentials");
    u = ok("redis://secret@cache");
    cr_expect_str_eq(u.user, "", "no colon: a password for the default user");
    cr_expect_str_eq(u.password, "secret");
}

Test(redis_url, scheme_case_and_ipv6)
{
    bf_redis_url u = ok("REDIS://[::1]:7000");
    cr_expect_str_eq(u.host, "::1");
    cr_expect_eq(u.port, 7000);
    u = ok("redis://[fe80::1]");
    cr_expect_str_eq(u.host, "fe80::1");
    cr_expect_eq(u.port, 6379);
}

Test(redis_url, malformed)
{
    bad("redis://u:%zz@h", "user or password");
    bad("redis://u:%00@h", "user or password");
    bad("redis://u:@h", "without a password");
    bad("redis://[::1", "IPv6");
    bad("redis://[::1]x", "IPv6");
    bad("redis://h:0", "port");
    bad("redis://h:+1", "port");
    bad("redis://h/x", "database");
    bad("redis://h/-1", "database");
    bad("rediss://h", "redis://");
    /* an error never echoes the URL: it may hold a password */
    bad("http://u:hunter2@h", "sentinel://");
    cr_expect(strstr(err, "hunter2") == NULL, "error echoes the password: %s", err);
}

Test(redis_url, sentinel)
{
    bf_redis_url u = ok("sentinel://belfry:pw@s1:26380,s2,[::1]:26381/mymaster");
    cr_expect_eq(u.kind, BF_REDIS_URL_SENTINEL);
    cr_expect_str_eq(u.user, "belfry");
    cr_expect_str_eq(u.password, "pw");
    cr_assert_eq(u.nsentinels, 3);
    cr_expect_str_eq(u.sentinels[0].host, "s1");
    cr_expect_eq(u.sentinels[0].port, 26380);
    cr_expect_str_eq(u.sentinels[1].host, "s2");
    cr_expect_eq(u.sentinels[1].port, 26379, "sentinels default to 26379");
    cr_expect_str_eq(u.sentinels[2].host, "::1");
    cr_expect_str_eq(u.master, "mymaster");
    cr_expect_eq(u.db, 0);
    cr_expect_str_eq(u.host, "s1");
    u = ok("Sentinel://s1/m/4");
    cr_expect_eq(u.db, 4);
    cr_expect_str_eq(u.master, "m");
    char d[128];
    cr_expect_str_eq(bf_redis_url_describe(&u, d, sizeof(d)), "sentinel m via s1:26379");

    bad("sentinel://s1:26379", "master's name");
    bad("sentinel://s1:26379/", "master's name");
    bad("sentinel://s1,/m", "empty sentinel");
    bad("sentinel://,s1/m", "host");
    bad("sentinel:///m", "no sentinel");
    bad("sentinel://a,b,c,d,e,f,g,h,i/m", "more than 8");
}

Test(redis_url, describe_has_no_password)
{
    bf_redis_url u = ok("redis://belfry:hunter2@[::1]:7000/3");
    char d[128];
    bf_redis_url_describe(&u, d, sizeof(d));
    cr_expect_str_eq(d, "redis [::1]:7000 as belfry");
    char tiny[8];
    cr_expect_str_eq(bf_redis_url_describe(&u, tiny, sizeof(tiny)), "redis [");
}

Test(redis_url, cluster_seeds_with_acl_user)
{
    bf_redis_url u = ok("cluster://belfry:s%40cret@10.0.0.1:7000,[::1]:7001,cache");
    cr_expect_eq(u.kind, BF_REDIS_URL_CLUSTER);
    cr_expect_str_eq(u.user, "belfry");
    cr_expect_str_eq(u.password, "s@cret");
    cr_assert_eq(u.nseeds, 3);
    cr_expect_str_eq(u.seeds[0].host, "10.0.0.1");
    cr_expect_eq(u.seeds[0].port, 7000);
    cr_expect_str_eq(u.seeds[1].host, "::1");
    cr_expect_eq(u.seeds[1].port, 7001);
    cr_expect_str_eq(u.seeds[2].host, "cache");
    cr_expect_eq(u.seeds[2].port, 6379, "the default port of a seed is 6379");
    cr_expect_str_eq(u.host, "10.0.0.1", "host/port name the first seed");
    cr_expect_eq(u.port, 7000);
    cr_expect_eq(u.db, 0);
    cr_expect_eq(u.nsentinels, 0);
    char d[128];
    cr_expect_str_eq(bf_redis_url_describe(&u, d, sizeof(d)),
                     "cluster via 10.0.0.1:7000,[::1]:7001,cache:6379 as belfry");
    u = ok("CLUSTER://pw@h1/");
    cr_expect_str_eq(u.user, "", "no colon: a password for the default user");
    cr_expect_str_eq(u.password, "pw");
    cr_expect_eq(u.nseeds, 1);
}

Test(redis_url, cluster_malformed)
{
    bad("cluster://", "no cluster seed");
    bad("cluster://a:1,", "empty cluster seed");
    bad("cluster://a:1,,b:2", "host");
    bad("cluster://a:1/2", "no /db");
    bad("cluster://a:99999", "invalid port");
    bad("cluster://u:@a:1", "without a password");
    bad("cluster://a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q", "more than 16 cluster seeds");
    bad("clusters://a:1", "cluster://");
}

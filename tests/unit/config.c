/* Unit tests for common/config.h: the table-driven parser (defaults < environment < flags) and
 * the HOST:PORT and redis:// URL parsers.
 *
 * Criterion runs every test in its own process, so setenv() in one test cannot leak into another.
 */
#include "config.h"
#include "err.h"

#include <criterion/criterion.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* ---- a small table of our own ------------------------------------------------------------ */

typedef struct tcfg {
    const char *name;
    long long workers;
    bool verbose;
    bf_hostport listen;
    bf_redis_url redis;
    const char *mode;
    const char *token; /* no default: NULL unless given */
} tcfg;

static const bf_cfg_opt table[] = {
    {"name", BF_CFG_STRING, "BFT_NAME", "belfry", 0, 0, NULL, offsetof(tcfg, name), "node name"},
    {"workers", BF_CFG_INT, "BFT_WORKERS", "4", 1, 64, NULL, offsetof(tcfg, workers), "workers"},
    {"verbose", BF_CFG_BOOL, "BFT_VERBOSE", "false", 0, 0, NULL, offsetof(tcfg, verbose),
     "log more"},
    {"listen", BF_CFG_HOSTPORT, "BFT_LISTEN", "127.0.0.1:9000", 0, 0, NULL, offsetof(tcfg, listen),
     "listen address"},
    {"redis", BF_CFG_REDIS, "BFT_REDIS", "redis://localhost", 0, 0, NULL, offsetof(tcfg, redis),
     "redis URL"},
    {"mode", BF_CFG_STRING, "BFT_MODE", "fast", 0, 0, "fast|safe|off", offsetof(tcfg, mode),
     "mode"},
    {"token", BF_CFG_STRING, NULL, NULL, 0, 0, NULL, offsetof(tcfg, token), "secret"},
    {NULL, 0, NULL, NULL, 0, 0, NULL, 0, NULL},
};

static char err[BF_ERR_LEN];

/* parse("--a", "b") runs bf_config_parse over {"prog", "--a", "b"}. */
#define parse(cfg, ...)                                                                            \
    bf_config_parse(table, (cfg), (int)(sizeof((char *[]){"prog", __VA_ARGS__}) / sizeof(char *)), \
                    (char *[]){"prog", __VA_ARGS__, NULL}, err, sizeof(err))

static int parse_none(tcfg *c)
{
    char *argv[] = {"prog", NULL};
    return bf_config_parse(table, c, 1, argv, err, sizeof(err));
}

static void setup(void)
{
    err[0] = '\0';
    unsetenv("BFT_NAME");
    unsetenv("BFT_WORKERS");
    unsetenv("BFT_VERBOSE");
    unsetenv("BFT_LISTEN");
    unsetenv("BFT_REDIS");
    unsetenv("BFT_MODE");
}

#define has(s) cr_expect(strstr(err, (s)) != NULL, "err should mention '%s': %s", (s), err)

/* ---- precedence -------------------------------------------------------------------------- */

TestSuite(config, .init = setup);

Test(config, defaults)
{
    tcfg c;
    memset(&c, 0xa5, sizeof(c));
    cr_assert_eq(parse_none(&c), BF_CFG_OK, "err: %s", err);
    cr_expect_str_eq(c.name, "belfry");
    cr_expect_eq(c.workers, 4);
    cr_expect_eq(c.verbose, false);
    cr_expect_str_eq(c.listen.host, "127.0.0.1");
    cr_expect_eq(c.listen.port, 9000);
    cr_expect_str_eq(c.redis.host, "localhost");
    cr_expect_eq(c.redis.port, 6379);
    cr_expect_str_eq(c.redis.password, "");
    cr_expect_eq(c.redis.db, 0);
    cr_expect_str_eq(c.mode, "fast");
    cr_expect_null(c.token, "a string without default is NULL");
}

Test(config, env_overrides_default)
{
    tcfg c;
    setenv("BFT_NAME", "from-env", 1);
    setenv("BFT_WORKERS", "9", 1);
    setenv("BFT_VERBOSE", "yes", 1);
    setenv("BFT_LISTEN", "0.0.0.0:7000", 1);
    setenv("BFT_REDIS", "redis://:pw@r1:6380/2", 1);
    setenv("BFT_MODE", "safe", 1);
    cr_assert_eq(parse_none(&c), BF_CFG_OK, "err: %s", err);
    cr_expect_str_eq(c.name, "from-env");
    cr_expect_eq(c.workers, 9);
    cr_expect_eq(c.verbose, true);
    cr_expect_str_eq(c.listen.host, "0.0.0.0");
    cr_expect_eq(c.listen.port, 7000);
    cr_expect_str_eq(c.redis.host, "r1");
    cr_expect_eq(c.redis.port, 6380);
    cr_expect_str_eq(c.redis.password, "pw");
    cr_expect_eq(c.redis.db, 2);
    cr_expect_str_eq(c.mode, "safe");
}

Test(config, unset_env_leaves_default)
{
    tcfg c;
    setenv("BFT_WORKERS", "9", 1);
    unsetenv("BFT_WORKERS");
    cr_assert_eq(parse_none(&c), BF_CFG_OK);
    cr_expect_eq(c.workers, 4);
}

Test(config, flag_overrides_env)
{
    tcfg c;
    setenv("BFT_NAME", "from-env", 1);
    setenv("BFT_WORKERS", "9", 1);
    setenv("BFT_VERBOSE", "true", 1);
    cr_assert_eq(parse(&c, "--name", "from-flag", "--workers=12", "--verbose=false"), BF_CFG_OK,
                 "err: %s", err);
    cr_expect_str_eq(c.name, "from-flag");
    cr_expect_eq(c.workers, 12);
    cr_expect_eq(c.verbose, false);
}

Test(config, env_bool_spellings)
{
    const char *yes[] = {"1", "true", "TRUE", "yes", "on"};
    const char *no[] = {"0", "false", "False", "no", "off", ""};
    tcfg c;
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        setenv("BFT_VERBOSE", yes[i], 1);
        cr_assert_eq(parse_none(&c), BF_CFG_OK);
        cr_expect_eq(c.verbose, true, "'%s' is true", yes[i]);
    }
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
        setenv("BFT_VERBOSE", no[i], 1);
        cr_assert_eq(parse_none(&c), BF_CFG_OK);
        cr_expect_eq(c.verbose, false, "'%s' is false", no[i]);
    }
}

Test(config, bad_env_value_names_the_variable)
{
    tcfg c;
    setenv("BFT_VERBOSE", "maybe", 1);
    cr_expect_eq(parse_none(&c), BF_EINVAL);
    has("BFT_VERBOSE");
    has("maybe");
}

/* ---- flag forms -------------------------------------------------------------------------- */

Test(config, equals_and_separate_value_forms_agree)
{
    tcfg a, b;
    cr_assert_eq(parse(&a, "--name=n1", "--workers=7", "--listen=[::1]:81", "--mode=off"),
                 BF_CFG_OK, "err: %s", err);
    cr_assert_eq(
        parse(&b, "--name", "n1", "--workers", "7", "--listen", "[::1]:81", "--mode", "off"),
        BF_CFG_OK, "err: %s", err);
    cr_expect_str_eq(a.name, "n1");
    cr_expect_str_eq(b.name, "n1");
    cr_expect_eq(a.workers, 7);
    cr_expect_eq(b.workers, 7);
    cr_expect_str_eq(a.listen.host, "::1");
    cr_expect_str_eq(b.listen.host, "::1");
    cr_expect_eq(a.listen.port, 81);
    cr_expect_eq(b.listen.port, 81);
    cr_expect_str_eq(a.mode, "off");
    cr_expect_str_eq(b.mode, "off");
}

Test(config, equals_value_may_contain_equals)
{
    tcfg c;
    cr_assert_eq(parse(&c, "--token=a=b=c"), BF_CFG_OK);
    cr_expect_str_eq(c.token, "a=b=c");
}

Test(config, empty_value_with_equals)
{
    tcfg c;
    cr_assert_eq(parse(&c, "--name="), BF_CFG_OK);
    cr_expect_str_eq(c.name, "");
}

Test(config, bool_flag_without_value_is_true)
{
    tcfg c;
    cr_assert_eq(parse(&c, "--verbose", "--workers", "3"), BF_CFG_OK, "err: %s", err);
    cr_expect_eq(c.verbose, true);
    cr_expect_eq(c.workers, 3, "the bool flag must not swallow the next argument");
}

Test(config, last_flag_wins)
{
    tcfg c;
    cr_assert_eq(parse(&c, "--verbose", "--verbose=0", "--workers=2", "--workers", "5"), BF_CFG_OK);
    cr_expect_eq(c.verbose, false);
    cr_expect_eq(c.workers, 5);
}

Test(config, bool_flag_with_explicit_value)
{
    tcfg c;
    setenv("BFT_VERBOSE", "1", 1);
    cr_assert_eq(parse(&c, "--verbose=no"), BF_CFG_OK);
    cr_expect_eq(c.verbose, false);
    cr_expect_eq(parse(&c, "--verbose=2"), BF_EINVAL);
    has("--verbose");
}

Test(config, redis_flag)
{
    tcfg c;
    cr_assert_eq(parse(&c, "--redis", "redis://u:secret@db.local:7000/5"), BF_CFG_OK, "err: %s",
                 err);
    cr_expect_str_eq(c.redis.host, "db.local");
    cr_expect_eq(c.redis.port, 7000);
    cr_expect_str_eq(c.redis.password, "secret");
    cr_expect_eq(c.redis.db, 5);
}

/* ---- errors ------------------------------------------------------------------------------ */

Test(config, unknown_flag_is_named)
{
    tcfg c;
    cr_expect_eq(parse(&c, "--bogus=1"), BF_EINVAL);
    has("unknown flag");
    has("--bogus");
    cr_expect(strstr(err, "=1") == NULL, "only the name is quoted: %s", err);
}

Test(config, flag_name_prefix_is_not_a_match)
{
    tcfg c;
    cr_expect_eq(parse(&c, "--work", "3"), BF_EINVAL);
    has("--work");
    cr_expect_eq(parse(&c, "--workersx", "3"), BF_EINVAL);
    has("--workersx");
}

Test(config, missing_value)
{
    tcfg c;
    cr_expect_eq(parse(&c, "--name"), BF_EINVAL);
    has("--name");
    has("missing value");
    cr_expect_eq(parse(&c, "--verbose", "--workers"), BF_EINVAL);
    has("--workers");
}

Test(config, int_out_of_range)
{
    tcfg c;
    cr_expect_eq(parse(&c, "--workers", "65"), BF_ERANGE);
    has("--workers");
    has("65");
    has("[1, 64]");
    cr_expect_eq(parse(&c, "--workers=0"), BF_ERANGE);
    cr_expect_eq(parse(&c, "--workers=-3"), BF_ERANGE);
    cr_expect_eq(parse(&c, "--workers=99999999999999999999"), BF_EINVAL, "overflow: %s", err);
}

Test(config, int_bounds_are_inclusive)
{
    tcfg c;
    cr_assert_eq(parse(&c, "--workers=1"), BF_CFG_OK);
    cr_expect_eq(c.workers, 1);
    cr_assert_eq(parse(&c, "--workers=64"), BF_CFG_OK);
    cr_expect_eq(c.workers, 64);
}

Test(config, int_not_a_number)
{
    tcfg c;
    const char *bad[] = {"abc", "", "4x", "0x10", "3.5"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char arg[64];
        snprintf(arg, sizeof(arg), "--workers=%s", bad[i]);
        err[0] = '\0';
        cr_expect_eq(parse(&c, arg), BF_EINVAL, "'%s'", bad[i]);
        has("not an integer");
    }
}

Test(config, env_int_out_of_range_names_the_variable)
{
    tcfg c;
    setenv("BFT_WORKERS", "100", 1);
    cr_expect_eq(parse_none(&c), BF_ERANGE);
    has("BFT_WORKERS");
}

Test(config, choices_violation)
{
    tcfg c;
    cr_expect_eq(parse(&c, "--mode", "slow"), BF_EINVAL);
    has("--mode");
    has("slow");
    has("fast|safe|off");
    /* substrings and supersets of a choice are not choices */
    cr_expect_eq(parse(&c, "--mode=fas"), BF_EINVAL);
    cr_expect_eq(parse(&c, "--mode=fastest"), BF_EINVAL);
    cr_expect_eq(parse(&c, "--mode="), BF_EINVAL);
    cr_expect_eq(parse(&c, "--mode=fast|safe"), BF_EINVAL);
}

Test(config, choices_violation_in_env)
{
    tcfg c;
    setenv("BFT_MODE", "turbo", 1);
    cr_expect_eq(parse_none(&c), BF_EINVAL);
    has("BFT_MODE");
}

Test(config, bad_hostport_flag)
{
    tcfg c;
    cr_expect_eq(parse(&c, "--listen", "nohost"), BF_EINVAL);
    has("--listen");
    cr_expect_eq(parse(&c, "--listen=host:99999"), BF_EINVAL);
    has("99999");
}

Test(config, bad_redis_flag)
{
    tcfg c;
    cr_expect_eq(parse(&c, "--redis", "http://x"), BF_EINVAL);
    has("--redis");
    /* a cluster has database 0 only: the one URL parser says so */
    cr_expect_eq(parse(&c, "--redis", "cluster://a:7000,b:7001/1"), BF_EINVAL);
    has("--redis");
    /* and takes the seeds (every script call is single-slot: tests/unit/script_slots.c) */
    cr_expect_eq(parse(&c, "--redis", "cluster://a:7000,b:7001"), 0);
}

Test(config, bad_default_is_reported)
{
    static const bf_cfg_opt bad[] = {
        {"n", BF_CFG_INT, NULL, "100", 0, 10, NULL, offsetof(tcfg, workers), "n"},
        {NULL, 0, NULL, NULL, 0, 0, NULL, 0, NULL},
    };
    tcfg c;
    char *argv[] = {"prog", NULL};
    cr_expect_eq(bf_config_parse(bad, &c, 1, argv, err, sizeof(err)), BF_ERANGE);
    has("default");
    has("--n");
}

Test(config, help_and_version)
{
    tcfg c;
    cr_expect_eq(parse(&c, "--help"), BF_CFG_HELP);
    cr_expect_eq(parse(&c, "-h"), BF_CFG_HELP);
    cr_expect_eq(parse(&c, "--workers=3", "--help"), BF_CFG_HELP);
    cr_expect_eq(parse(&c, "--version"), BF_CFG_VERSION);
    cr_expect_eq(parse(&c, "--version", "--help"), BF_CFG_VERSION, "the first one wins");
}

Test(config, positional_argument_is_an_error)
{
    tcfg c;
    cr_expect_eq(parse(&c, "serve"), BF_EINVAL);
    has("unexpected argument");
    has("serve");
    cr_expect_eq(parse(&c, "-v"), BF_EINVAL);
    has("-v");
    cr_expect_eq(parse(&c, "--workers", "3", "extra"), BF_EINVAL);
    has("extra");
}

Test(config, usage_lists_every_flag)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    cr_assert_not_null(f);
    bf_config_usage(table, f, "prog", "A test program.");
    fclose(f);
    for (const bf_cfg_opt *o = table; o->name; o++) {
        char flag[64];
        snprintf(flag, sizeof(flag), "--%s", o->name);
        cr_expect(strstr(text, flag) != NULL, "usage lists %s", flag);
        cr_expect(strstr(text, o->help) != NULL, "usage has help for %s", flag);
        if (o->env) cr_expect(strstr(text, o->env) != NULL, "usage names %s", o->env);
    }
    cr_expect(strstr(text, "[1..64]") != NULL, "int bounds shown");
    cr_expect(strstr(text, "fast|safe|off") != NULL, "choices shown");
    cr_expect(strstr(text, "default: 127.0.0.1:9000") != NULL, "defaults shown");
    cr_expect(strstr(text, "--help") != NULL);
    cr_expect(strstr(text, "--version") != NULL);
    free(text);
}

/* ---- bf_parse_hostport ------------------------------------------------------------------- */

Test(hostport, ipv4)
{
    bf_hostport hp;
    cr_assert_eq(bf_parse_hostport("127.0.0.1:80", &hp, err, sizeof(err)), 0);
    cr_expect_str_eq(hp.host, "127.0.0.1");
    cr_expect_eq(hp.port, 80);
}

Test(hostport, bracketed_ipv6)
{
    bf_hostport hp;
    cr_assert_eq(bf_parse_hostport("[::1]:9", &hp, err, sizeof(err)), 0, "err: %s", err);
    cr_expect_str_eq(hp.host, "::1");
    cr_expect_eq(hp.port, 9);
}

Test(hostport, hostname_and_port_edges)
{
    bf_hostport hp;
    cr_assert_eq(bf_parse_hostport("example.com:65535", &hp, err, sizeof(err)), 0);
    cr_expect_str_eq(hp.host, "example.com");
    cr_expect_eq(hp.port, 65535);
    cr_assert_eq(bf_parse_hostport("h:0", &hp, err, sizeof(err)), 0, "port 0: any free port");
    cr_expect_eq(hp.port, 0);
}

Test(hostport, missing_port)
{
    bf_hostport hp;
    cr_expect_eq(bf_parse_hostport("127.0.0.1", &hp, err, sizeof(err)), BF_EINVAL);
    has("HOST:PORT");
    cr_expect_eq(bf_parse_hostport("127.0.0.1:", &hp, err, sizeof(err)), BF_EINVAL);
    has("port");
}

Test(hostport, port_out_of_range)
{
    bf_hostport hp;
    cr_expect_eq(bf_parse_hostport("h:70000", &hp, err, sizeof(err)), BF_EINVAL);
    has("70000");
    cr_expect_eq(bf_parse_hostport("h:65536", &hp, err, sizeof(err)), BF_EINVAL);
    cr_expect_eq(bf_parse_hostport("h:-1", &hp, err, sizeof(err)), BF_EINVAL);
    cr_expect_eq(bf_parse_hostport("h:80x", &hp, err, sizeof(err)), BF_EINVAL);
    cr_expect_eq(bf_parse_hostport("h:http", &hp, err, sizeof(err)), BF_EINVAL);
}

Test(hostport, empty_host)
{
    bf_hostport hp;
    cr_expect_eq(bf_parse_hostport(":80", &hp, err, sizeof(err)), BF_EINVAL);
    has("host");
    cr_expect_eq(bf_parse_hostport("[]:80", &hp, err, sizeof(err)), BF_EINVAL);
    cr_expect_eq(bf_parse_hostport("", &hp, err, sizeof(err)), BF_EINVAL);
}

Test(hostport, host_too_long)
{
    char s[300];
    bf_hostport hp;
    memset(s, 'h', 256);
    strcpy(s + 256, ":80");
    cr_expect_eq(bf_parse_hostport(s, &hp, err, sizeof(err)), BF_EINVAL);
    s[255] = '\0';
    strcat(s, ":80"); /* 255-byte host fits with its NUL */
    cr_expect_eq(bf_parse_hostport(s, &hp, err, sizeof(err)), 0);
    cr_expect_eq(strlen(hp.host), 255);
}

/* ---- bf_parse_redis_url ------------------------------------------------------------------ */

static bf_redis_url url_ok(const char *s)
{
    bf_redis_url u;
    memset(&u, 0x5a, sizeof(u));
    cr_assert_eq(bf_parse_redis_url(s, &u, err, sizeof(err)), 0, "'%s': %s", s, err);
    return u;
}

static void url_bad(const char *s)
{
    bf_redis_url u;
    err[0] = '\0';
    cr_expect_eq(bf_parse_redis_url(s, &u, err, sizeof(err)), BF_EINVAL, "'%s' must fail", s);
    cr_expect_neq(err[0], '\0', "'%s' has an error message", s);
}

Test(redis_url, host_only_uses_defaults)
{
    bf_redis_url u = url_ok("redis://cache");
    cr_expect_str_eq(u.host, "cache");
    cr_expect_eq(u.port, 6379);
    cr_expect_str_eq(u.password, "");
    cr_expect_eq(u.db, 0);
}

Test(redis_url, host_and_port)
{
    bf_redis_url u = url_ok("redis://10.0.0.5:6380");
    cr_expect_str_eq(u.host, "10.0.0.5");
    cr_expect_eq(u.port, 6380);
    cr_expect_eq(u.db, 0);
}

Test(redis_url, password_only)
{
    bf_redis_url u = url_ok("redis://:s3cret@cache:7000");
    cr_expect_str_eq(u.password, "s3cret");
    cr_expect_str_eq(u.host, "cache");
    cr_expect_eq(u.port, 7000);
}

Test(redis_url, user_and_password)
{
    bf_redis_url u = url_ok("redis://default:pw@cache");
    cr_expect_str_eq(u.user, "default", "an ACL user name is kept (AUTH user pass)");
    cr_expect_str_eq(u.password, "pw");
    cr_expect_str_eq(u.host, "cache");
    cr_expect_eq(u.port, 6379);
}

Test(redis_url, password_with_at_and_colon)
{
    bf_redis_url u = url_ok("redis://:p@ss:w@cache");
    cr_expect_str_eq(u.password, "p@ss:w", "the last '@' ends the credentials");
    cr_expect_str_eq(u.host, "cache");
}

Test(redis_url, db_number)
{
    bf_redis_url u = url_ok("redis://cache/3");
    cr_expect_str_eq(u.host, "cache");
    cr_expect_eq(u.port, 6379);
    cr_expect_eq(u.db, 3);
    u = url_ok("redis://:pw@cache:6390/15");
    cr_expect_eq(u.port, 6390);
    cr_expect_eq(u.db, 15);
    cr_expect_str_eq(u.password, "pw");
    u = url_ok("redis://cache/");
    cr_expect_eq(u.db, 0, "a bare slash means db 0");
}

Test(redis_url, bad_scheme)
{
    url_bad("http://cache");
    url_bad("rediss://cache");
    url_bad("cache:6379");
    url_bad("");
    cr_expect(strstr(err, "redis://") != NULL, "err shows the expected form: %s", err);
}

Test(redis_url, bad_port)
{
    url_bad("redis://cache:");
    url_bad("redis://cache:0");
    url_bad("redis://cache:70000");
    url_bad("redis://cache:63x");
    url_bad("redis://cache:-1");
    url_bad("redis://cache:12345678901234567890");
}

Test(redis_url, bad_db)
{
    url_bad("redis://cache/x");
    url_bad("redis://cache/3x");
    url_bad("redis://cache/-1");
    url_bad("redis://cache:6379/99999999999999999999");
}

Test(redis_url, missing_host)
{
    url_bad("redis://");
    url_bad("redis://:6379");
    url_bad("redis://:pw@");
    url_bad("redis:///3");
}

/* ---- validation in the rows (the daemons' own tables) ------------------------------------- */

#include "gw_config.h"
#include "rt_config.h"
#include "apps.h"

typedef struct vcase {
    const char *flag, *value, *says;
} vcase;

static void refused(const bf_cfg_opt *table, void *cfg, const vcase *c)
{
    char err[BF_ERR_LEN] = "";
    char *argv[] = {"prog", (char *)c->flag, (char *)c->value};
    int rc = bf_config_parse(table, cfg, 3, argv, err, sizeof(err));
    cr_expect_lt(rc, 0, "%s '%s' accepted", c->flag, c->value);
    cr_expect(strstr(err, c->says), "%s '%s': error '%s' should say '%s'", c->flag, c->value, err,
              c->says);
}

static const vcase daemon_cases[] = {
    {"--listen", "127.0.0.1:0", "port 0 is out of range [1, 65535]"},
    {"--node-id", "a/b", "may not contain '/'"},
    {"--node-id", "a b", "may not contain '/'"},
    {"--node-id", "12345678901234567890123456789012345678901234567890123456789012345",
     "must be 1-64 bytes (got 65)"},
    {"--redis-prefix", "12345678901234567890123456789012345678901234567890123456789012345",
     "must be 0-64 bytes"},
    /* a brace in the prefix would move every key's Redis Cluster hash tag (redis_keys.h) */
    {"--redis-prefix", "{app}:", "may not contain '{' or '}'"},
    {"--redis-prefix", "app}:", "may not contain '{' or '}'"},
};

Test(config_rows, gateway_table_validates_in_its_rows)
{
    for (size_t i = 0; i < sizeof(daemon_cases) / sizeof(daemon_cases[0]); i++) {
        bf_gw_config c;
        refused(bf_gw_config_table, &c, &daemon_cases[i]);
        bf_apps_free(c.apps);
    }
    bf_gw_config c;
    refused(bf_gw_config_table, &c, &(vcase){"--jwt-secret", "short", "must be 32-4096 bytes"});
    bf_apps_free(c.apps);
}

Test(config_rows, router_table_validates_in_its_rows)
{
    for (size_t i = 0; i < sizeof(daemon_cases) / sizeof(daemon_cases[0]); i++) {
        bf_rt_config c;
        refused(bf_rt_config_table, &c, &daemon_cases[i]);
        bf_apps_free(c.apps);
    }
}

Test(config_rows, an_empty_value_of_a_row_without_default_is_not_given)
{
    setenv("BELFRY_JWT_SECRET", "", 1);
    setenv("BELFRY_NODE_ID", "", 1);
    bf_gw_config c;
    char err[BF_ERR_LEN];
    char *argv[] = {"prog"};
    cr_assert_eq(bf_config_parse(bf_gw_config_table, &c, 1, argv, err, sizeof(err)), BF_CFG_OK,
                 "%s", err);
    cr_expect_null(c.jwt_secret);
    cr_expect_null(c.node_id);
    bf_apps_free(c.apps);
}

/* A repeatable list flag (BF_CFG_LIST): the environment's comma-separated list, replaced as a
 * whole by the flags, which accumulate. */
typedef struct lcfg {
    bf_strlist hooks;
} lcfg;

static const bf_cfg_opt list_table[] = {
    {"hook", BF_CFG_LIST, "BFT_HOOKS", NULL, 0, 0, NULL, offsetof(lcfg, hooks), "hooks"},
    {NULL, 0, NULL, NULL, 0, 0, NULL, 0, NULL},
};

Test(config, list_flag_repeats_and_replaces_the_environment)
{
    setenv("BFT_HOOKS", "a=1,b=2", 1);
    lcfg c = {0};
    char *none[] = {"prog"};
    cr_assert_eq(bf_config_parse(list_table, &c, 1, none, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(c.hooks.n, 2);
    cr_assert_str_eq(c.hooks.v[0], "a=1");
    cr_assert_str_eq(c.hooks.v[1], "b=2");
    bf_strlist_clear(&c.hooks);
    char *argv[] = {"prog", "--hook", "x=http://h/p", "--hook=y=z"};
    cr_assert_eq(bf_config_parse(list_table, &c, 4, argv, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(c.hooks.n, 2, "flags replace the environment's list");
    cr_assert_str_eq(c.hooks.v[0], "x=http://h/p");
    cr_assert_str_eq(c.hooks.v[1], "y=z");
    bf_strlist_clear(&c.hooks);
    cr_assert_eq(c.hooks.n, 0);
    unsetenv("BFT_HOOKS");
}

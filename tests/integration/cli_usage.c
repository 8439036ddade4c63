/* Issue: admin CLI belfryctl — conventions every command shares: --help with examples, usage
 * errors (exit 2), an unreachable Redis (exit 3), one clear stderr line per error; and the token
 * command, which keeps its behaviour. Nothing here needs a running cluster. */
#include "cli_common.h"

#include <jwt.h>

TestSuite(cli_usage, .timeout = 60);

static const char *const commands[] = {"presence", "channels", "nodes", "owner",
                                       "publish",  "tail",     "kick",  "token"};

Test(cli_usage, every_command_has_help_with_examples)
{
    cli_res r = cli_run("--help");
    cr_assert_eq(r.status, 0);
    for (size_t i = 0; i < sizeof(commands) / sizeof(*commands); i++)
        cr_expect(strstr(r.out, commands[i]), "belfryctl --help lists %s", commands[i]);
    cli_res_free(&r);
    for (size_t i = 0; i < sizeof(commands) / sizeof(*commands); i++) {
        char usage[64];
        snprintf(usage, sizeof(usage), "Usage: belfryctl %s", commands[i]);
        r = cli_run(commands[i], "--help");
        cr_expect_eq(r.status, 0, "%s --help: exit %d", commands[i], r.status);
        cr_expect(strstr(r.out, usage), "%s --help:\n%s", commands[i], r.out);
        cr_expect(strstr(r.out, "Example"), "%s --help has examples", commands[i]);
        cr_expect_str_empty(r.err, "%s --help", commands[i]);
        cli_res_free(&r);
    }
    r = cli_run("nodes", "--version");
    cr_expect_eq(r.status, 0);
    cr_expect(strstr(r.out, "belfryctl "), "%s", r.out);
    cli_res_free(&r);
}

Test(cli_usage, usage_errors_exit_2_with_one_line)
{
    const char *cases[][10] = {
        {NULL},
        {"bogus"},
        {"nodes", "--bogus"},
        {"nodes", "extra"},
        {"presence"},
        {"presence", "bad channel!"},
        {"history", "bad channel!"},
        {"owner", "bad channel!"},
        {"kick", "bad channel!", "u"},
        {"publish", "bad channel!", "E"},
        {"tail", "bad channel!"},
        {"channels", "--type", "secret"},
        {"owner", "x", "--redis", "http://nope"},
        {"owner", "x", "--redis", "cluster://127.0.0.1:7000,127.0.0.1:7001/0"}, /* no databases */
        {"owner", "x", "--timeout-ms", "5"},
        {"publish", "news"},
        {"kick", "news"},
        {"kick", "news", "u", "--reason"},
        {"tail"},
        {"token", "--user", "u", "--channel", "c"},
        {"token", "--secret", "0123456789abcdef0123456789abcdef", "--channel", "c"},
        {"token", "--secret", "0123456789abcdef0123456789abcdef", "--user", "u", "--channel", "c",
         "--ttl"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        cli_res r = cli_runv(NULL, NULL, cases[i][0] ? cases[i] : (const char *const[]){NULL});
        cr_expect_eq(r.status, 2, "case %zu (%s %s): exit %d, %s", i, cases[i][0], cases[i][1],
                     r.status, r.err);
        if (cases[i][0])
            cr_expect_eq(cli_lines(r.err), 1, "case %zu: one line, got:\n%s", i, r.err);
        if (cases[i][0] && cases[i][1] && !strcmp(cases[i][1], "bad channel!"))
            cr_expect(strstr(r.err, "invalid channel 'bad channel!'"), "case %zu: %s", i, r.err);
        cr_expect_str_empty(r.out, "case %zu", i);
        cli_res_free(&r);
    }
}

Test(cli_usage, an_unreachable_redis_exits_3)
{
    char url[64];
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d", bf_free_port()); /* closed */
    const char *cases[][6] = {
        {"presence", "presence-x", "--redis", url},
        {"channels", "--redis", url},
        {"nodes", "--redis", url},
        {"owner", "x", "--redis", url},
        {"publish", "x", "E", "--redis", url},
        {"kick", "x", "u", "--redis", url},
        {"tail", "x", "--redis", url}, /* no --gateway: looks for one in Redis */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        cli_res r = cli_runv(NULL, NULL, cases[i]);
        cr_expect_eq(r.status, 3, "%s: exit %d, %s", cases[i][0], r.status, r.err);
        cr_expect(strstr(r.err, "127.0.0.1"), "%s names the address: %s", cases[i][0], r.err);
        cr_expect_eq(cli_lines(r.err), 1, "%s: one line, got:\n%s", cases[i][0], r.err);
        cr_expect_str_empty(r.out, "%s", cases[i][0]);
        cli_res_free(&r);
    }
    /* the same through the environment */
    char env[96];
    snprintf(env, sizeof(env), "BELFRY_REDIS_URL=%s", url);
    cli_res r = cli_run_env(ENV(env), "nodes", "--json");
    cr_expect_eq(r.status, 3, "%s", r.err);
    cli_res_free(&r);
}

/* Global options may come before the command as well as after it (git -C, kubectl -n). */
Test(cli_usage, global_options_before_the_command)
{
    char url[64], eq[80];
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d", bf_free_port()); /* closed */
    snprintf(eq, sizeof(eq), "--redis=%s", url);
    const char *cases[][12] = {
        {"--redis", url, "presence", "presence-x"},
        {eq, "nodes"},
        {"--redis", url, "--redis-prefix", "other:", "--timeout-ms", "500", "--json", "--no-color",
         "channels"},
        {"--json", "owner", "x", "--redis", url},
        {"--timeout-ms", "400", "--redis", url, "kick", "x", "u"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        cli_res r = cli_runv(NULL, NULL, cases[i]);
        cr_expect_eq(r.status, 3, "case %zu: exit %d, %s", i, r.status, r.err);
        cr_expect(strstr(r.err, "127.0.0.1"), "case %zu names the address: %s", i, r.err);
        cli_res_free(&r);
    }
    /* a global option is still checked by the command (bounds), and needs a command after it */
    const char *bad[][8] = {
        {"--timeout-ms", "5", "nodes"},
        {"--redis", "http://nope", "nodes"},
        {"--json"},
        {"--redis", url},
        {"--redis", url, "token", "--secret", IT_SECRET, "--user", "u"},
        {"--redis", url, "--redis-prefix", "{t}:", "nodes"}, /* a hash tag in every key */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        cli_res r = cli_runv(NULL, NULL, bad[i]);
        cr_expect_eq(r.status, 2, "bad case %zu: exit %d, %s", i, r.status, r.err);
        cr_expect_eq(cli_lines(r.err), 1, "bad case %zu: one line, got:\n%s", i, r.err);
        cr_expect(!strstr(r.err, "unknown command"), "bad case %zu: %s", i, r.err);
        cli_res_free(&r);
    }
}

Test(cli_usage, token_signs_the_claims_the_gateways_check)
{
    const char *secret = IT_SECRET;
    cli_res r =
        cli_run("token", "--secret", secret, "--user", "alice", "--channel", "presence-room.1",
                "--channel", "private-orders.*", "--info", "{\"name\":\"Alice\"}", "--ttl", "15m");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_eq(cli_lines(r.out), 1);
    r.out[strcspn(r.out, "\n")] = '\0';
    jwt_t *jwt = NULL;
    cr_assert_eq(jwt_decode(&jwt, r.out, (const unsigned char *)secret, (int)strlen(secret)), 0,
                 "the token verifies with the secret");
    cr_expect_eq(jwt_get_alg(jwt), JWT_ALG_HS256);
    cr_expect_str_eq(jwt_get_grant(jwt, "sub"), "alice");
    cr_expect_eq(jwt_get_grant_int(jwt, "exp") - jwt_get_grant_int(jwt, "iat"), 900);
    char *channels = jwt_get_grants_json(jwt, "channels");
    cr_expect_str_eq(channels, "[\"presence-room.1\",\"private-orders.*\"]");
    char *info = jwt_get_grants_json(jwt, "info");
    cr_expect_str_eq(info, "{\"name\":\"Alice\"}");
    free(channels);
    free(info);
    jwt_free(jwt);
    cli_res_free(&r);

    /* the secret from the environment; the default lifetime is one hour */
    char env[128];
    snprintf(env, sizeof(env), "BELFRY_JWT_SECRET=%s", secret);
    r = cli_run_env(ENV(env), "token", "--user", "bob", "--channel", "presence-x");
    cr_assert_eq(r.status, 0, "%s", r.err);
    r.out[strcspn(r.out, "\n")] = '\0';
    cr_assert_eq(jwt_decode(&jwt, r.out, (const unsigned char *)secret, (int)strlen(secret)), 0);
    cr_expect_eq(jwt_get_grant_int(jwt, "exp") - jwt_get_grant_int(jwt, "iat"), 3600);
    jwt_free(jwt);
    cli_res_free(&r);

    r = cli_run("token", "--secret", "short", "--user", "u", "--channel", "c");
    cr_expect_eq(r.status, 2);
    cr_expect(strstr(r.err, "--secret: required, at least 32 bytes"), "%s", r.err);
    cli_res_free(&r);
    r = cli_run("token", "--secret", secret, "--user", "u", "--channel", "c", "--info", "[1]");
    cr_expect_eq(r.status, 2);
    cr_expect(strstr(r.err, "--info"), "%s", r.err);
    cli_res_free(&r);
}

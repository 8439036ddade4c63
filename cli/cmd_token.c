/* belfryctl token: mint an HS256 JWT that a gateway started with the same --jwt-secret accepts. */
#include "args.h"
#include "cli.h"

#include <jansson.h>
#include <jwt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const bf_cfg_opt table[] = {
    {"secret", BF_CFG_STRING, "BELFRY_JWT_SECRET", NULL, 0, 0, NULL, BF_CLI_F(secret),
     "the gateways' --jwt-secret (at least 32 bytes)"},
    {"user", BF_CFG_STRING, NULL, NULL, 0, 0, NULL, BF_CLI_F(user),
     "the user id (the sub claim; required for presence channels)"},
    {"channel", BF_CFG_STRING, NULL, NULL, 0, 0, NULL, BF_CLI_F(channel),
     "a channel the token grants, repeatable; a trailing * grants a prefix"},
    {"info", BF_CFG_STRING, NULL, NULL, 0, 0, NULL, BF_CLI_F(info),
     "public presence info, a JSON object of at most 1 KiB"},
    {"ttl", BF_CFG_STRING, NULL, "1h", 0, 0, NULL, BF_CLI_F(ttl), "lifetime: 90, 30s, 15m, 1h, 2d"},
    BF_CLI_OPTS_END,
};

static const bf_cli_spec spec = {
    .name = "token",
    .synopsis = "--secret S --user U --channel C [--channel C2 ...]",
    .summary = "Prints a token for private and presence channels, signed with HS256, that a\n"
               "gateway started with the same --jwt-secret accepts.",
    .details = "Output: the token and a newline.\n\n"
               "Example:\n"
               "  belfryctl token --secret \"$BELFRY_JWT_SECRET\" --user alice \\\n"
               "      --channel presence-room.1 --channel 'private-orders.*' --info "
               "'{\"name\":\"Alice\"}'\n",
    .table = table,
    .min_pos = 0,
    .max_pos = 0,
    .repeatable = "channel",
};

int bf_cli_parse_duration(const char *s, long long *out)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    if (end == s || v < 0) return -1;
    long long mul = 1;
    if (!strcmp(end, "") || !strcmp(end, "s"))
        mul = 1;
    else if (!strcmp(end, "m"))
        mul = 60;
    else if (!strcmp(end, "h"))
        mul = 3600;
    else if (!strcmp(end, "d"))
        mul = 86400;
    else
        return -1;
    *out = v * mul;
    return 0;
}

int bf_cli_token(int argc, char **argv)
{
    bf_cli_cfg cfg;
    int rc = bf_cli_args_parse(&spec, &cfg, argc, argv);
    if (rc != BF_CLI_CONTINUE) return rc;
    const char *secret = cfg.secret, *user = cfg.user, *info = cfg.info;
    long long ttl;
    json_t *channels = json_array();
    rc = BF_CLI_USAGE;
    for (int i = 0; i < cfg.nmulti; i++) json_array_append_new(channels, json_string(cfg.multi[i]));
    if (bf_cli_parse_duration(cfg.ttl, &ttl) || ttl == 0) {
        fprintf(stderr, "belfryctl token: --ttl: invalid duration '%s'\n", cfg.ttl);
        goto out;
    }
    if (!secret || strlen(secret) < 32) {
        fprintf(stderr, "belfryctl token: --secret: required, at least 32 bytes\n");
        goto out;
    }
    if (!user || !*user) {
        fprintf(stderr, "belfryctl token: --user: required\n");
        goto out;
    }
    if (json_array_size(channels) == 0) {
        fprintf(stderr, "belfryctl token: --channel: at least one is required\n");
        goto out;
    }
    json_t *claims = json_pack("{s:s,s:I,s:I,s:O}", "sub", user, "iat", (json_int_t)time(NULL),
                               "exp", (json_int_t)(time(NULL) + ttl), "channels", channels);
    if (info) {
        json_error_t je;
        json_t *ij = json_loads(info, 0, &je);
        char *compact = ij ? json_dumps(ij, JSON_COMPACT) : NULL;
        if (!json_is_object(ij) || !compact || strlen(compact) > 1024) {
            fprintf(stderr, "belfryctl token: --info: must be a JSON object of at most 1024 "
                            "bytes\n");
            free(compact);
            json_decref(ij);
            json_decref(claims);
            goto out;
        }
        free(compact);
        json_object_set_new(claims, "info", ij);
    }
    char *grants = json_dumps(claims, JSON_COMPACT);
    json_decref(claims);
    jwt_t *jwt = NULL;
    char *token = NULL;
    if (grants && jwt_new(&jwt) == 0 && jwt_add_grants_json(jwt, grants) == 0 &&
        jwt_set_alg(jwt, JWT_ALG_HS256, (const unsigned char *)secret, (int)strlen(secret)) == 0)
        token = jwt_encode_str(jwt);
    free(grants);
    jwt_free(jwt);
    if (!token) {
        fprintf(stderr, "belfryctl token: could not sign the token\n");
        rc = BF_CLI_FAILED;
        goto out;
    }
    printf("%s\n", token);
    free(token);
    rc = BF_CLI_OK;
out:
    json_decref(channels);
    return rc;
}

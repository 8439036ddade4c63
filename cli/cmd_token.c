/* belfryctl token: mint an HS256 JWT that a gateway started with the same --jwt-secret accepts. */
#include "cli.h"

#include <getopt.h>
#include <jansson.h>
#include <jwt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void usage(FILE *f)
{
    fprintf(f, "Usage: belfryctl token --secret S --user U --channel C [--channel C2 ...]\n"
               "                       [--info JSON] [--ttl 1h]\n\n"
               "Prints a token for private and presence channels, signed with HS256.\n"
               "  --secret S    the gateways' --jwt-secret (or BELFRY_JWT_SECRET)\n"
               "  --user U      the user id (the sub claim; required for presence channels)\n"
               "  --channel C   a channel the token grants; a trailing * grants a prefix\n"
               "  --info JSON   public presence info, a JSON object of at most 1 KiB\n"
               "  --ttl D       lifetime: 90, 30s, 15m, 1h, 2d (default 1h)\n\n"
               "Example:\n"
               "  belfryctl token --secret \"$BELFRY_JWT_SECRET\" --user alice \\\n"
               "      --channel presence-room.1 --channel 'private-orders.*' --info "
               "'{\"name\":\"Alice\"}'\n");
}

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
    static const struct option opts[] = {{"secret", required_argument, 0, 's'},
                                         {"user", required_argument, 0, 'u'},
                                         {"channel", required_argument, 0, 'c'},
                                         {"info", required_argument, 0, 'i'},
                                         {"ttl", required_argument, 0, 't'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *secret = getenv("BELFRY_JWT_SECRET"), *user = NULL, *info = NULL;
    long long ttl = 3600;
    json_t *channels = json_array();
    int c, rc = BF_CLI_USAGE;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            secret = optarg;
            break;
        case 'u':
            user = optarg;
            break;
        case 'c':
            json_array_append_new(channels, json_string(optarg));
            break;
        case 'i':
            info = optarg;
            break;
        case 't':
            if (bf_cli_parse_duration(optarg, &ttl) || ttl == 0) {
                fprintf(stderr, "belfryctl token: --ttl: invalid duration '%s'\n", optarg);
                goto out;
            }
            break;
        case 'h':
            usage(stdout);
            rc = BF_CLI_OK;
            goto out;
        default:
            usage(stderr);
            goto out;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "belfryctl token: unexpected argument '%s'\n", argv[optind]);
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
    if (jwt_new(&jwt) == 0 && jwt_add_grants_json(jwt, grants) == 0 &&
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

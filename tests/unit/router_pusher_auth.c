/* Unit tests for router/pusher_auth.h: the Pusher HTTP API request signature, checked against the
 * protocol's worked example (pusher-http-node's test vector) and against every way a request can
 * fail. */
#include "router/pusher_auth.c"

#include "apps.h"
#include "err.h"
#include "hmac.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#define VKEY "278d425bdf160c739803"
#define VSECRET "7ad3773142a6692b25b8"
#define VTS 1353088179LL
/* the worked example: POST /apps/3/events with body_md5 ec365a... */
#define VMD5 "ec365a775a4cd0599faeb73354201b6f"
#define VSIG "da454824c97ba181a32ccc17a72625ba02771f50b50e1e7430e47a1f3f457e6c"

static bf_apps *apps;

static void setup(void)
{
    char err[BF_ERR_LEN];
    apps = bf_apps_new();
    cr_assert_eq(
        bf_apps_add(apps, "1:first-key:first-secret,3:" VKEY ":" VSECRET, err, sizeof(err)), 0,
        "%s", err);
}

static void teardown(void)
{
    bf_apps_free(apps);
}

static bf_pauth_result check(const char *method, const char *path, const char *app_id,
                             const char *query, const char *body, long long now, char *err)
{
    bf_pauth_request r = {.method = method,
                          .path = path,
                          .app_id = app_id,
                          .app_id_len = strlen(app_id),
                          .query = query,
                          .body = body,
                          .body_len = body ? strlen(body) : 0,
                          .now_s = now,
                          .max_skew_s = 600};
    const bf_app *a = NULL;
    bf_pauth_result res = bf_pusher_auth_check(apps, &r, &a, err, BF_ERR_LEN);
    if (res == BF_PAUTH_OK) cr_assert_not_null(a);
    return res;
}

/* Signs like pusher-http-node: sorted params, unescaped values. */
static void sign(char *query, size_t cap, const char *method, const char *path, const char *key,
                 const char *secret, long long ts, const char *body, const char *extra)
{
    char md5[BF_MD5_HEX_LEN + 1] = "";
    if (body) bf_md5_hex(body, strlen(body), md5);
    char q[2048];
    snprintf(q, sizeof(q), "auth_key=%s&auth_timestamp=%lld&auth_version=1.0%s%s%s%s", key, ts,
             body ? "&body_md5=" : "", md5, extra ? "&" : "", extra ? extra : "");
    char sig[BF_SHA256_HEX_LEN + 1];
    const void *parts[] = {method, "\n", path, "\n", q};
    size_t lens[] = {strlen(method), 1, strlen(path), 1, strlen(q)};
    bf_hmac_sha256_hexv(secret, strlen(secret), parts, lens, 5, sig);
    int n = snprintf(query, cap, "%s&auth_signature=%s", q, sig);
    cr_assert(n > 0 && (size_t)n < cap, "the signed query does not fit in %zu bytes", cap);
}

TestSuite(pusher_auth, .init = setup, .fini = teardown);

/* pusher-http-node's worked example: the body whose MD5 is VMD5, signed at VTS. */
#define VBODY                                                                                      \
    "{\"name\":\"foo\",\"channels\":[\"project-3\"],\"data\":\"{\\\"some\\\":\\\"data\\\"}\"}"

Test(pusher_auth, worked_example_is_accepted_and_a_changed_byte_is_not)
{
    char err[BF_ERR_LEN];
    char md5[BF_MD5_HEX_LEN + 1];
    bf_md5_hex(VBODY, strlen(VBODY), md5);
    cr_assert_str_eq(md5, VMD5);
    /* parameters in another order, the signature in the middle: the checker sorts */
    const char *q = "body_md5=" VMD5 "&auth_signature=" VSIG "&auth_version=1.0&auth_key=" VKEY
                    "&auth_timestamp=1353088179";
    cr_assert_eq(check("POST", "/apps/3/events", "3", q, VBODY, VTS, err), BF_PAUTH_OK, "%s", err);
    const char *q2 = "body_md5=" VMD5 "&auth_signature="
                     "ea454824c97ba181a32ccc17a72625ba02771f50b50e1e7430e47a1f3f457e6c"
                     "&auth_version=1.0&auth_key=" VKEY "&auth_timestamp=1353088179";
    cr_assert_eq(check("POST", "/apps/3/events", "3", q2, VBODY, VTS, err), BF_PAUTH_SIGNATURE);
    /* upper-case hex is not what the SDKs send and is not accepted */
    const char *q3 = "body_md5=" VMD5 "&auth_signature="
                     "DA454824C97BA181A32CCC17A72625BA02771F50B50E1E7430E47A1F3F457E6C"
                     "&auth_version=1.0&auth_key=" VKEY "&auth_timestamp=1353088179";
    cr_assert_eq(check("POST", "/apps/3/events", "3", q3, VBODY, VTS, err), BF_PAUTH_SIGNATURE);
}

Test(pusher_auth, accepts_what_the_sdk_signs_get_and_post)
{
    char err[BF_ERR_LEN], q[2048];
    const char *body = "{\"name\":\"e\",\"channels\":[\"a\"],\"data\":\"{}\"}";
    sign(q, sizeof(q), "POST", "/apps/3/events", VKEY, VSECRET, VTS, body, NULL);
    cr_assert_eq(check("POST", "/apps/3/events", "3", q, body, VTS + 10, err), BF_PAUTH_OK, "%s",
                 err);
    /* GET with extra parameters signed unescaped, sent escaped */
    sign(q, sizeof(q), "GET", "/apps/3/channels", VKEY, VSECRET, VTS, NULL,
         "filter_by_prefix=presence-&info=user_count,subscription_count");
    char *comma = strstr(q, "user_count,");
    cr_assert_not_null(comma);
    char esc[2100];
    snprintf(esc, sizeof(esc), "%.*s%%2C%s", (int)(comma - q + 10), q, comma + 11);
    cr_assert_eq(check("GET", "/apps/3/channels", "3", esc, NULL, VTS, err), BF_PAUTH_OK, "%s",
                 err);
    /* a prefix in front of /apps is part of the signed path */
    sign(q, sizeof(q), "GET", "/pusher/apps/3/channels", VKEY, VSECRET, VTS, NULL, NULL);
    cr_assert_eq(check("GET", "/pusher/apps/3/channels", "3", q, NULL, VTS, err), BF_PAUTH_OK, "%s",
                 err);
    cr_assert_eq(check("GET", "/apps/3/channels", "3", q, NULL, VTS, err), BF_PAUTH_SIGNATURE);
}

Test(pusher_auth, refusals_name_the_failing_part)
{
    char err[BF_ERR_LEN], q[2048];
    const char *body = "{\"name\":\"e\"}";
    sign(q, sizeof(q), "POST", "/apps/3/events", VKEY, VSECRET, VTS, body, NULL);

    cr_assert_eq(check("POST", "/apps/9/events", "9", q, body, VTS, err), BF_PAUTH_UNKNOWN_APP);
    cr_assert(strstr(err, "unknown app id '9'"), "%s", err);
    cr_assert_eq(bf_pusher_auth_status(BF_PAUTH_UNKNOWN_APP), 404);

    cr_assert_eq(check("POST", "/apps/1/events", "1", q, body, VTS, err), BF_PAUTH_WRONG_APP);
    cr_assert(strstr(err, "does not belong to app '1'"), "%s", err);

    cr_assert_eq(check("POST", "/apps/3/events", "3", q, body, VTS + 601, err), BF_PAUTH_STALE);
    cr_assert(strstr(err, "601 s"), "%s", err);
    cr_assert_eq(check("POST", "/apps/3/events", "3", q, body, VTS - 601, err), BF_PAUTH_STALE);
    cr_assert_eq(check("POST", "/apps/3/events", "3", q, body, VTS + 600, err), BF_PAUTH_OK, "%s",
                 err);

    cr_assert_eq(check("POST", "/apps/3/events", "3", q, "{\"name\":\"f\"}", VTS, err),
                 BF_PAUTH_BODY_MD5);
    cr_assert(strstr(err, "body_md5"), "%s", err);

    /* wrong secret */
    sign(q, sizeof(q), "POST", "/apps/3/events", VKEY, "not-the-secret", VTS, body, NULL);
    cr_assert_eq(check("POST", "/apps/3/events", "3", q, body, VTS, err), BF_PAUTH_SIGNATURE);
    cr_assert(strstr(err, "auth_signature"), "%s", err);
    cr_assert_eq(bf_pusher_auth_status(BF_PAUTH_SIGNATURE), 401);
    cr_assert_str_eq(bf_pusher_auth_code(BF_PAUTH_SIGNATURE), "bad_signature");

    /* the method is signed */
    sign(q, sizeof(q), "GET", "/apps/3/channels", VKEY, VSECRET, VTS, NULL, NULL);
    cr_assert_eq(check("POST", "/apps/3/channels", "3", q, NULL, VTS, err), BF_PAUTH_SIGNATURE);
    /* an added parameter is signed */
    char more[2100];
    snprintf(more, sizeof(more), "%s&info=user_count", q);
    cr_assert_eq(check("GET", "/apps/3/channels", "3", more, NULL, VTS, err), BF_PAUTH_SIGNATURE);

    /* unknown key, missing parts, version, body without body_md5 */
    cr_assert_eq(check("GET", "/apps/3/channels", "3",
                       "auth_key=nope&auth_timestamp=1&auth_version=1.0&auth_signature=x", NULL,
                       VTS, err),
                 BF_PAUTH_UNKNOWN_KEY);
    cr_assert_eq(check("GET", "/apps/3/channels", "3", "auth_key=" VKEY, NULL, VTS, err),
                 BF_PAUTH_MISSING);
    cr_assert(strstr(err, "auth_timestamp"), "%s", err);
    cr_assert_eq(check("GET", "/apps/3/channels", "3", NULL, NULL, VTS, err), BF_PAUTH_MISSING);
    cr_assert_eq(check("GET", "/apps/3/channels", "3",
                       "auth_key=" VKEY
                       "&auth_timestamp=1353088179&auth_version=2.0&auth_signature=x",
                       NULL, VTS, err),
                 BF_PAUTH_VERSION);
    cr_assert_eq(check("POST", "/apps/3/events", "3",
                       "auth_key=" VKEY
                       "&auth_timestamp=1353088179&auth_version=1.0&auth_signature=x",
                       "{}", VTS, err),
                 BF_PAUTH_BODY_MD5);
    cr_assert_eq(check("GET", "/apps/3/channels", "3",
                       "auth_key=" VKEY "&auth_timestamp=13e8&auth_version=1.0&auth_signature=x",
                       NULL, VTS, err),
                 BF_PAUTH_STALE);
}

Test(pusher_auth, malformed_queries_are_400)
{
    char err[BF_ERR_LEN];
    cr_assert_eq(check("GET", "/apps/3/x", "3", "auth_key=a&auth_key=b", NULL, VTS, err),
                 BF_PAUTH_BAD_QUERY);
    cr_assert(strstr(err, "twice"), "%s", err);
    cr_assert_eq(check("GET", "/apps/3/x", "3", "AUTH_KEY=a&auth_key=b", NULL, VTS, err),
                 BF_PAUTH_BAD_QUERY, "keys are compared lower-cased");
    cr_assert_eq(check("GET", "/apps/3/x", "3", "a=%zz", NULL, VTS, err), BF_PAUTH_BAD_QUERY);
    cr_assert_eq(check("GET", "/apps/3/x", "3", "a=%2", NULL, VTS, err), BF_PAUTH_BAD_QUERY);
    cr_assert_eq(check("GET", "/apps/3/x", "3", "a=%00", NULL, VTS, err), BF_PAUTH_BAD_QUERY);
    char many[1024] = "";
    for (int i = 0; i <= BF_PAUTH_MAX_PARAMS; i++)
        snprintf(many + strlen(many), sizeof(many) - strlen(many), "p%d=1&", i);
    cr_assert_eq(check("GET", "/apps/3/x", "3", many, NULL, VTS, err), BF_PAUTH_BAD_QUERY);
    cr_assert_eq(bf_pusher_auth_status(BF_PAUTH_BAD_QUERY), 400);
}

Test(pusher_auth, urldecode)
{
    char out[32];
    cr_assert_eq(bf_pusher_urldecode("a%2Cb+c", 7, out), 5);
    cr_assert_str_eq(out, "a,b c");
    cr_assert_eq(bf_pusher_urldecode("%", 1, out), -1);
    cr_assert_eq(bf_pusher_urldecode("", 0, out), 0);
}

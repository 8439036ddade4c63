/* Unit tests for common/apps.h (the app list, its config rows, scoped channel names) and
 * common/hmac.h (the Pusher signatures' primitives, against the protocol's published vectors). */
#include "apps.h"
#include "config.h"
#include "err.h"
#include "hmac.h"

#include <criterion/criterion.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* ---- the list ---------------------------------------------------------------------------- */

Test(apps, parses_triples_and_finds_by_id_and_key)
{
    bf_apps *a = bf_apps_new();
    char err[BF_ERR_LEN];
    cr_assert_eq(bf_apps_add(a, "1:key-one:s3cr:et,app2:k2:other", err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(bf_apps_count(a), 2);
    const bf_app *x = bf_apps_by_key(a, "key-one", 7);
    cr_assert_not_null(x);
    cr_assert_str_eq(x->id, "1");
    cr_assert_str_eq(x->secret, "s3cr:et", "a secret keeps every byte after the second ':'");
    cr_assert_eq(x->secret_len, 7);
    cr_assert_eq(bf_apps_by_id(a, "app2", 4), bf_apps_at(a, 1));
    cr_assert_null(bf_apps_by_id(a, "app", 3), "a prefix of an id is not the id");
    cr_assert_null(bf_apps_by_key(a, "k", 1));
    cr_assert_eq(bf_apps_default(a), bf_apps_at(a, 0), "the first app is the default");
    bf_apps_free(a);
    bf_apps_free(NULL);
}

Test(apps, implicit_default_app_has_no_key)
{
    bf_apps *a = bf_apps_new();
    const bf_app *d = bf_apps_default(a);
    cr_assert(d->implicit);
    cr_assert_str_eq(d->id, "default");
    cr_assert_eq(bf_apps_by_id(a, "default", 7), d);
    cr_assert_null(bf_apps_by_key(a, "", 0), "nothing authenticates against the implicit app");
    bf_apps_free(a);
}

Test(apps, refuses_bad_entries_whole)
{
    static const struct {
        const char *spec, *says;
    } bad[] = {
        {"", "empty"},
        {"1:k", "ID:KEY:SECRET"},
        {"1::s", "key must be"},
        {":k:s", "id must be"},
        {"1:k:", "secret must be"},
        {"a b:k:s", "id may use"},
        {"1:k/x:s", "key may use"},
        {"1:k:s,1:k2:s", "given twice"},
        {"1:k:s,2:k:s", "belongs to another app"},
        {"123456789012345678901234567890123:k:s", "id must be"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        bf_apps *a = bf_apps_new();
        char err[BF_ERR_LEN] = "";
        cr_expect_eq(bf_apps_add(a, bad[i].spec, err, sizeof(err)), BF_EINVAL, "'%s' accepted",
                     bad[i].spec);
        cr_expect(strstr(err, bad[i].says), "'%s': error '%s' should say '%s'", bad[i].spec, err,
                  bad[i].says);
        cr_expect_eq(bf_apps_count(a), 0, "'%s': a refused list adds nothing", bad[i].spec);
        bf_apps_free(a);
    }
}

/* ---- scoped names ------------------------------------------------------------------------ */

Test(apps, default_app_channels_keep_bare_names_others_are_scoped)
{
    bf_apps *a = bf_apps_new();
    char err[BF_ERR_LEN], out[128];
    cr_assert_eq(bf_apps_add(a, "main:k1:s1,shop:k2:s2", err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(bf_apps_scope(a, bf_apps_at(a, 0), "news", 4, out, sizeof(out)), 0);
    cr_assert_str_eq(out, "news");
    cr_assert_eq(bf_apps_scope(a, bf_apps_at(a, 1), "news", 4, out, sizeof(out)), 0);
    cr_assert_str_eq(out, "shop/news");
    const char *name;
    cr_assert_eq(bf_apps_unscope(a, "shop/news", &name), bf_apps_at(a, 1));
    cr_assert_str_eq(name, "news");
    cr_assert_eq(bf_apps_unscope(a, "news", &name), bf_apps_at(a, 0));
    cr_assert_str_eq(name, "news");
    cr_assert_null(bf_apps_unscope(a, "main/news", &name), "the default app is never scoped");
    cr_assert_null(bf_apps_unscope(a, "nope/news", &name));
    cr_assert_eq(bf_apps_scope(a, bf_apps_at(a, 1), "news", 4, out, 9), BF_ERANGE);
    bf_apps_free(a);
}

/* ---- config rows ------------------------------------------------------------------------- */

typedef struct acfg {
    bf_apps *apps;
} acfg;

static const bf_cfg_opt table[] = {
    {"app", BF_CFG_APPS, "BFT_APPS", NULL, 0, 0, NULL, offsetof(acfg, apps), "apps"},
    {NULL, 0, NULL, NULL, 0, 0, NULL, 0, NULL},
};

Test(apps, config_flags_repeat_and_replace_the_environment)
{
    setenv("BFT_APPS", "env:ek:es,env2:ek2:es2", 1);
    acfg c;
    char err[BF_ERR_LEN];
    char *none[] = {"prog"};
    cr_assert_eq(bf_config_parse(table, &c, 1, none, err, sizeof(err)), BF_CFG_OK, "%s", err);
    cr_assert_eq(bf_apps_count(c.apps), 2);
    cr_assert_str_eq(bf_apps_default(c.apps)->id, "env");
    bf_apps_free(c.apps);

    char *argv[] = {"prog", "--app", "a:ka:sa", "--app=b:kb:sb"};
    cr_assert_eq(bf_config_parse(table, &c, 4, argv, err, sizeof(err)), BF_CFG_OK, "%s", err);
    cr_assert_eq(bf_apps_count(c.apps), 2, "flags replace the environment's list");
    cr_assert_str_eq(bf_apps_at(c.apps, 0)->id, "a");
    cr_assert_str_eq(bf_apps_at(c.apps, 1)->id, "b");
    bf_apps_free(c.apps);

    char *badv[] = {"prog", "--app", "a:ka"};
    cr_assert_eq(bf_config_parse(table, &c, 3, badv, err, sizeof(err)), BF_EINVAL);
    cr_assert(strstr(err, "--app") && strstr(err, "ID:KEY:SECRET"), "%s", err);
    bf_apps_free(c.apps);
}

/* ---- signatures: the vectors of the Pusher protocol ------------------------------------------ */

#define VKEY "278d425bdf160c739803"
#define VSECRET "7ad3773142a6692b25b8"

static void sig_is(const char *msg, const char *want)
{
    char hex[BF_SHA256_HEX_LEN + 1];
    bf_hmac_sha256_hex(VSECRET, strlen(VSECRET), msg, strlen(msg), hex);
    cr_assert_str_eq(hex, want, "signature of '%s'", msg);
}

Test(hmac, private_channel_vector)
{
    sig_is("1234.1234:private-foobar",
           "58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4");
}

Test(hmac, presence_channel_vector)
{
    /* the published vector signs "Mr. Pusher" (pusher-http-php's and the Pusher docs' own test) */
    sig_is("1234.1234:presence-foobar:{\"user_id\":10,\"user_info\":{\"name\":\"Mr. Pusher\"}}",
           "afaed3695da2ffd16931f457e338e6c9f2921fa133ce7dac49f529792be6304c");
}

Test(hmac, user_signin_vector)
{
    sig_is("1234.1234::user::{\"id\":\"12345\"}",
           "4708d583dada6a56435fb8bc611c77c359a31eebde13337c16ab43aa6de336ba");
}

Test(hmac, http_api_vector_and_parts)
{
    const char *msg = "POST\n/apps/3/events\nauth_key=" VKEY
                      "&auth_timestamp=1353088179&auth_version=1.0&body_md5="
                      "ec365a775a4cd0599faeb73354201b6f";
    sig_is(msg, "da454824c97ba181a32ccc17a72625ba02771f50b50e1e7430e47a1f3f457e6c");
    /* the same signature from parts, as the servers compute it without building the string */
    const char *query = strstr(msg, "auth_key");
    const void *parts[3] = {"POST\n", "/apps/3/events\n", query};
    size_t lens[3] = {5, 15, strlen(query)};
    char hex[BF_SHA256_HEX_LEN + 1];
    bf_hmac_sha256_hexv(VSECRET, strlen(VSECRET), parts, lens, 3, hex);
    cr_assert_str_eq(hex, "da454824c97ba181a32ccc17a72625ba02771f50b50e1e7430e47a1f3f457e6c");
}

Test(hmac, long_keys_are_hashed_first)
{
    /* RFC 4231 test case 6: a 131-byte key of 0xaa */
    unsigned char key[131];
    memset(key, 0xaa, sizeof(key));
    const char *msg = "Test Using Larger Than Block-Size Key - Hash Key First";
    char hex[BF_SHA256_HEX_LEN + 1];
    bf_hmac_sha256_hex(key, sizeof(key), msg, strlen(msg), hex);
    cr_assert_str_eq(hex, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

Test(hmac, md5_and_constant_time_equal)
{
    char hex[BF_MD5_HEX_LEN + 1];
    bf_md5_hex("", 0, hex);
    cr_assert_str_eq(hex, "d41d8cd98f00b204e9800998ecf8427e");
    cr_assert(bf_ct_equal("abc", 3, "abc", 3));
    cr_assert_not(bf_ct_equal("abc", 3, "abd", 3));
    cr_assert_not(bf_ct_equal("abc", 3, "abcd", 4));
    cr_assert(bf_ct_equal("", 0, "", 0));
}

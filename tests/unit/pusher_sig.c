/* Unit tests for gateway/pusher_sig.h against the published Pusher signature vectors (key
 * 278d425bdf160c739803, secret 7ad3773142a6692b25b8, socket 1234.1234), and its refusals. */
#include "gateway/pusher_sig.h"

#include <criterion/criterion.h>
#include <string.h>

static const bf_app APP = {"3", "278d425bdf160c739803", "7ad3773142a6692b25b8", 20, false};
#define K "278d425bdf160c739803:"

Test(pusher_sig, private_channel_vector)
{
    const char *why = NULL;
    cr_expect_eq(bf_pusher_sig_channel(&APP, "1234.1234", "private-foobar", NULL,
                                       K "58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf8"
                                         "43651c3a4",
                                       &why),
                 BF_PSIG_OK);
}

Test(pusher_sig, presence_channel_vector)
{
    const char *why = NULL;
    const char *cd = "{\"user_id\":10,\"user_info\":{\"name\":\"Mr. Pusher\"}}";
    const char *auth = K "afaed3695da2ffd16931f457e338e6c9f2921fa133ce7dac49f529792be6304c";
    cr_expect_eq(bf_pusher_sig_channel(&APP, "1234.1234", "presence-foobar", cd, auth, &why),
                 BF_PSIG_OK);
    /* channel_data is signed exactly as sent: one byte more and it fails */
    const char *cd2 = "{\"user_id\":10,\"user_info\":{\"name\":\"Mr. Pusher\"}} ";
    cr_expect_eq(bf_pusher_sig_channel(&APP, "1234.1234", "presence-foobar", cd2, auth, &why),
                 BF_PSIG_SIGNATURE);
}

Test(pusher_sig, user_signin_vector)
{
    const char *why = NULL;
    cr_expect_eq(bf_pusher_sig_user(&APP, "1234.1234", "{\"id\":\"12345\"}",
                                    K "4708d583dada6a56435fb8bc611c77c359a31eebde13337c16ab43aa6"
                                      "de336ba",
                                    &why),
                 BF_PSIG_OK);
}

Test(pusher_sig, refusals)
{
    const char *why = NULL;
    const char *good = K "58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4";
    cr_expect_eq(bf_pusher_sig_channel(&APP, "1234.1234", "private-foobar", NULL, "", &why),
                 BF_PSIG_MISSING);
    cr_expect_eq(bf_pusher_sig_http_status(BF_PSIG_MISSING), 401);
    cr_expect_eq(bf_pusher_sig_channel(&APP, "1234.1234", "private-foobar", NULL, "nocolon", &why),
                 BF_PSIG_MALFORMED);
    cr_expect_eq(bf_pusher_sig_channel(&APP, "1234.1234", "private-foobar", NULL,
                                       "otherkey:58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f536"
                                       "9f135bf843651c3a4",
                                       &why),
                 BF_PSIG_WRONG_KEY);
    /* another socket or another channel: the same signature is worthless */
    cr_expect_eq(bf_pusher_sig_channel(&APP, "1234.1235", "private-foobar", NULL, good, &why),
                 BF_PSIG_SIGNATURE);
    cr_expect_str_eq(why, "invalid signature");
}

Test(pusher_sig, an_app_without_a_secret_authorises_nothing)
{
    const char *why = NULL;
    bf_app implicit = {"default", "", "", 0, true};
    cr_expect_neq(bf_pusher_sig_channel(&implicit, "1.1", "private-x", NULL,
                                        ":0000000000000000000000000000000000000000000000000000"
                                        "000000000000",
                                        &why),
                  BF_PSIG_OK);
}

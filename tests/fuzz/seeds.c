/* Writes the seed corpus of every harness into DIR/<harness>/ (tests/fuzz/run.sh seeds).
 *
 * Envelopes come from the real encoders (bf_wire_encode_*) plus hand-built byte strings for what
 * only Lua's cmsgpack or an attacker produces; tokens are signed with the harnesses' secret the
 * way clients get them (HS256, far-future exp), plus the classic JWT attacks. The output is
 * deterministic, so regenerating it leaves `git status` clean. */
#include "fuzz_util.h"
#include "wire.h"

#include <errno.h>
#include <sys/stat.h>

static const char *root;

static void put(const char *harness, const char *name, const void *p, size_t len)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", root, harness);
    if (mkdir(path, 0755) && errno != EEXIST) {
        perror(path);
        exit(1);
    }
    snprintf(path, sizeof(path), "%s/%s/%s", root, harness, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, len, f) != len || fclose(f)) {
        perror(path);
        exit(1);
    }
}

static void puts_(const char *harness, const char *name, const char *s)
{
    put(harness, name, s, strlen(s));
}

static bf_strview sv(const char *s)
{
    return (bf_strview){s, strlen(s)};
}

/* ---- wire envelopes ------------------------------------------------------------------------ */

static void fanout(const char *name, bf_fanout m)
{
    char *b;
    size_t n;
    if (bf_wire_encode_fanout(&m, &b, &n)) exit(1);
    put("wire_fanout", name, b, n);
    free(b);
}

static void inbox(const char *name, bf_inbox m)
{
    char *b;
    size_t n;
    if (bf_wire_encode_inbox(&m, &b, &n)) exit(1);
    put("wire_inbox", name, b, n);
    free(b);
}

static void wire_seeds(void)
{
    const char *frame = "{\"event\":\"OrderShipped\",\"data\":{\"id\":42},\"seq\":7}";
    fanout("message",
           (bf_fanout){
               BF_FAN_MESSAGE, sv("orders"), 7, sv(frame), {sv("")}, {sv("")}, sv(""), sv("")});
    fanout("message_big_seq", (bf_fanout){BF_FAN_MESSAGE,
                                          sv("presence-room"),
                                          18446744073709551615ull,
                                          sv(frame),
                                          {sv("")},
                                          {sv("")},
                                          sv(""),
                                          sv("")});
    fanout(
        "ephemeral_whisper",
        (bf_fanout){BF_FAN_EPHEMERAL,
                    sv("private-chat"),
                    0,
                    sv("{\"event\":\"whisper\",\"data\":{\"typing\":true},\"user_id\":\"alice\"}"),
                    {sv("gw-1a2b/17")},
                    {sv("")},
                    sv(""),
                    sv("")});
    fanout("direct_here",
           (bf_fanout){BF_FAN_DIRECT,
                       sv("presence-room"),
                       3,
                       sv("{\"event\":\"presence:here\",\"data\":{\"members\":[]},\"seq\":3}"),
                       {sv("gw-1a2b/5")},
                       {sv("")},
                       sv(""),
                       sv("")});
    fanout("presence_join_excluding_user",
           (bf_fanout){BF_FAN_MESSAGE,
                       sv("presence-room"),
                       4,
                       sv("{\"event\":\"presence:join\",\"data\":{\"member\":{\"id\":\"bob\"}},"
                          "\"seq\":4}"),
                       {sv("")},
                       {sv("bob")},
                       sv(""),
                       sv("")});
    fanout("pusher_publish", (bf_fanout){BF_FAN_MESSAGE,
                                         sv("app2/orders"),
                                         9,
                                         sv("{\"event\":\"e\",\"data\":{\"a\":1},\"seq\":9}"),
                                         {sv("")},
                                         {sv("")},
                                         sv("{\"a\": 1}"),
                                         sv("1234.5678")});
    fanout("kick", (bf_fanout){BF_FAN_KICK,
                               sv("presence-room"),
                               0,
                               sv("banned"),
                               {sv("")},
                               {sv("mallory")},
                               sv(""),
                               sv("")});
    fanout("kick_no_reason", (bf_fanout){BF_FAN_KICK,
                                         sv("private-x"),
                                         0,
                                         sv(""),
                                         {sv("gw/1")},
                                         {sv("mallory")},
                                         sv(""),
                                         sv("")});

    /* what Lua's cmsgpack emits for {1, 1, ch, seq, frame, '', ''}: seq as a float64 */
    static const unsigned char lua[] = {0x97, 0x01, 0x01, 0xa1, 'c',  0xcb, 0x40, 0x45, 0,   0,
                                        0,    0,    0,    0,    0xa2, '{',  '}',  0xa0, 0xa0};
    put("wire_fanout", "lua_float_seq", lua, sizeof(lua));
    /* five elements (the optional ones omitted) and trailing extra elements (forward compat) */
    static const unsigned char five[] = {0x95, 0x01, 0x02, 0xa1, 'c', 0x00, 0xa2, '{', '}'};
    put("wire_fanout", "five_elements", five, sizeof(five));
    static const unsigned char extra[] = {
        0x9b, 0x01, 0x01, 0xa1, 'c',  0x05, 0xa2, '{', '}', 0xa0, 0xa0, 0xa0, 0xa0, 0x82, 0xa1, 'k',
        0xc3, 0xa1, 'n',  0xc0, 0x92, 0xcb, 0,    0,   0,   0,    0,    0,    0,    0,    0xff};
    put("wire_fanout", "extra_elements", extra, sizeof(extra));
    /* attacker shapes: huge counts and lengths, deep nesting, bin and signed encodings */
    static const unsigned char arr32[] = {0xdd, 0xff, 0xff, 0xff, 0xff, 0x01, 0x01};
    put("wire_fanout", "array32_huge_count", arr32, sizeof(arr32));
    static const unsigned char str32[] = {0x97, 0x01, 0x01, 0xdb, 0xff, 0xff, 0xff, 0xf0, 'c'};
    put("wire_fanout", "str32_huge_length", str32, sizeof(str32));
    unsigned char deep[8 + 64];
    size_t d = 0;
    const unsigned char head[] = {0x98, 0x01, 0x02, 0xa1, 'c', 0x00, 0xa1, 'f', 0xa0, 0xa0};
    memcpy(deep, head, sizeof(head));
    d = sizeof(head);
    while (d < sizeof(deep)) deep[d++] = 0x91; /* 62 nested fixarrays, never closed */
    put("wire_fanout", "deep_nesting", deep, d);
    static const unsigned char bin[] = {0x97, 0xd0, 0x01, 0xd3, 0,    0,    0,    0,    0,    0,
                                        0,    0x01, 0xc4, 0x01, 'c',  0xcd, 0x01, 0x00, 0xc5, 0x00,
                                        0x02, '{',  '}',  0xd9, 0x00, 0xc6, 0,    0,    0,    0};
    put("wire_fanout", "bin_and_signed_encodings", bin, sizeof(bin));
    static const unsigned char v2[] = {0x95, 0x02, 0x01, 0xa1, 'c', 0x01, 0xa2, '{', '}'};
    put("wire_fanout", "wrong_version", v2, sizeof(v2));
    put("wire_fanout", "empty", "", 0);

    const char *member = "{\"id\":\"bob\",\"joinedAt\":1700000000000,\"info\":{\"name\":\"Bob\"}}";
    inbox("join",
          (bf_inbox){BF_OP_JOIN, sv("presence-room"), sv("gw-1a2b/5"), sv("bob"), sv(member), 0});
    inbox("leave",
          (bf_inbox){BF_OP_LEAVE, sv("presence-room"), sv("gw-1a2b/5"), sv("bob"), sv(""), 0});
    inbox("rejoin_forwarded",
          (bf_inbox){BF_OP_REJOIN, sv("presence-room"), sv("gw-1a2b/5"), sv("bob"), sv(member), 1});
    inbox("kick",
          (bf_inbox){BF_OP_KICK, sv("presence-room"), sv("cli/1"), sv("mallory"), sv("spam"), 0});
    inbox("user_with_resp_injection",
          (bf_inbox){BF_OP_JOIN, sv("presence-x"), sv("gw/1"), sv("a b\r\n*3\r\n$3\r\nDEL\r\n"),
                     sv("{\"id\":\"a b\\r\\n\"}"), 0});
    static const unsigned char six[] = {0x96, 0x01, 0x02, 0xa1, 'c', 0xa3,
                                        'g',  '/',  '1',  0xa1, 'u', 0xa0};
    put("wire_inbox", "six_elements", six, sizeof(six));
    static const unsigned char hops_float[] = {0x97, 0x01, 0x01, 0xa1, 'c', 0xa3, 'g',  '/',
                                               '1',  0xa1, 'u',  0xa2, '{', '}',  0xcb, 0x3f,
                                               0xf0, 0,    0,    0,    0,   0,    0};
    put("wire_inbox", "hops_float", hops_float, sizeof(hops_float));
    static const unsigned char map32[] = {0x98, 0x01, 0x01, 0xa1, 'c',  0xa1, 'g', 0xa0,
                                          0xa0, 0x00, 0xdf, 0x7f, 0xff, 0xff, 0xff};
    put("wire_inbox", "map32_huge_count", map32, sizeof(map32));
}

/* ---- JSON bodies --------------------------------------------------------------------------- */

static void json_seeds(void)
{
    static const char *pub[][2] = {
        {"order", "{\"event\":\"OrderShipped\",\"data\":{\"id\":42,\"items\":[1,2,3]}}"},
        {"typed", "{\"event\":\"Msg\",\"data\":\"hi\",\"type\":\"presence\"}"},
        {"type_mismatch", "{\"event\":\"Msg\",\"data\":null,\"type\":\"private\"}"},
        {"bad_type", "{\"event\":\"Msg\",\"type\":\"secret\"}"},
        {"no_data", "{\"event\":\"Ping\"}"},
        {"unicode",
         "{\"event\":\"caf\xc3\xa9 \xf0\x9f\x94\x94\",\"data\":\"\\u00e9\\ud83d\\udd14\"}"},
        {"reserved_presence", "{\"event\":\"presence:join\",\"data\":{\"member\":{\"id\":\"x\"}}}"},
        {"reserved_whisper", "{\"event\":\"whisper\",\"data\":{}}"},
        {"reserved_belfry", "{\"event\":\"belfry:resync\"}"},
        {"event_nul_escape", "{\"event\":\"a\\u0000b\",\"data\":1}"},
        {"lone_surrogate", "{\"event\":\"x\",\"data\":\"\\ud800\"}"},
        {"duplicate_keys", "{\"event\":\"a\",\"event\":\"b\"}"},
        {"event_not_string", "{\"event\":7}"},
        {"not_object", "[\"event\",\"x\"]"},
        {"trailing_garbage", "{\"event\":\"x\"} {}"},
        {"numbers", "{\"event\":\"n\",\"data\":[1e308,-0,1.5e-300,9223372036854775807]}"},
        {"empty", ""},
    };
    for (size_t i = 0; i < sizeof(pub) / sizeof(pub[0]); i++)
        puts_("message", pub[i][0], pub[i][1]);
    char ev[300];
    memset(ev, 'e', sizeof(ev));
    char body[400];
    snprintf(body, sizeof(body), "{\"event\":\"%.*s\",\"data\":0}", 200, ev);
    puts_("message", "event_200_bytes", body);
    snprintf(body, sizeof(body), "{\"event\":\"%.*s\",\"data\":0}", 201, ev);
    puts_("message", "event_201_bytes", body);
    char deep[2100];
    size_t n = (size_t)snprintf(deep, sizeof(deep), "{\"event\":\"d\",\"data\":");
    while (n < 2090) deep[n++] = '[';
    deep[n] = '\0';
    puts_("message", "deep_unclosed", deep);
    static const char bad_utf8[] = "{\"event\":\"\xc3\x28\",\"data\":\"\xed\xa0\x80\xc0\xaf\"}";
    puts_("message", "invalid_utf8", bad_utf8);

    static const char *cm[][2] = {
        {"whisper", "{\"event\":\"whisper\",\"channel\":\"private-chat\",\"data\":{\"event\":"
                    "\"typing\",\"data\":{\"on\":true}}}"},
        {"whisper_unprefixed", "{\"event\":\"whisper\",\"channel\":\"chat\",\"data\":1}"},
        {"whisper_no_channel", "{\"event\":\"whisper\",\"data\":[null,true,\"x\"]}"},
        {"whisper_spoofed_user", "{\"event\":\"whisper\",\"user_id\":\"mallory\",\"data\":{}}"},
        {"whisper_wrong_channel",
         "{\"event\":\"whisper\",\"channel\":\"private-other\",\"data\":1}"},
        {"whisper_channel_number", "{\"event\":\"whisper\",\"channel\":5,\"data\":1}"},
        {"whisper_no_data", "{\"event\":\"whisper\"}"},
        {"whisper_presence", "{\"event\":\"whisper\",\"channel\":\"room\",\"data\":\"hi\"}"},
        {"subscribe", "{\"event\":\"subscribe\",\"data\":{\"channel\":\"x\"}}"},
        {"pusher_style", "{\"event\":\"client-typing\",\"channel\":\"private-chat\",\"data\":{}}"},
        {"not_json", "not json at all"},
        {"array", "[{\"event\":\"whisper\"}]"},
        {"dup", "{\"event\":\"whisper\",\"data\":1,\"data\":2}"},
        {"empty", ""},
    };
    for (size_t i = 0; i < sizeof(cm) / sizeof(cm[0]); i++) puts_("client_msg", cm[i][0], cm[i][1]);

    /* Pusher client frames as pusher-js sends them, what other SDKs send, and hostile ones; the
     * same harness renders each as a fan-out frame, so native frames are seeds too */
    static const char *pm[][2] = {
        {"ping", "{\"event\":\"pusher:ping\",\"data\":{}}"},
        {"pong", "{\"event\":\"pusher:pong\",\"data\":{}}"},
        {"subscribe", "{\"event\":\"pusher:subscribe\",\"data\":{\"auth\":\"\",\"channel\":"
                      "\"news\"}}"},
        {"subscribe_presence",
         "{\"event\":\"pusher:subscribe\",\"data\":{\"auth\":\"k:0123\",\"channel\":"
         "\"presence-room\",\"channel_data\":\"{\\\"user_id\\\":10,\\\"user_info\\\":{}}\"}}"},
        {"subscribe_string_data",
         "{\"event\":\"pusher:subscribe\",\"data\":\"{\\\"channel\\\":\\\"a\\\"}\"}"},
        {"server_to_user", "{\"event\":\"pusher:subscribe\",\"data\":{\"channel\":"
                           "\"#server-to-user-42\"}}"},
        {"unsubscribe", "{\"event\":\"pusher:unsubscribe\",\"data\":{\"channel\":\"news\"}}"},
        {"signin", "{\"event\":\"pusher:signin\",\"data\":{\"auth\":\"k:s\",\"user_data\":"
                   "\"{\\\"id\\\":\\\"1\\\"}\"}}"},
        {"client_event", "{\"event\":\"client-typing\",\"channel\":\"private-chat\",\"data\":"
                         "{\"on\":true}}"},
        {"client_event_string", "{\"event\":\"client-x\",\"channel\":\"presence-r\",\"data\":"
                                "\"text\"}"},
        {"bad_channel", "{\"event\":\"pusher:subscribe\",\"data\":{\"channel\":\"a/b\"}}"},
        {"unknown", "{\"event\":\"pusher:nope\"}"},
        {"dup", "{\"event\":\"pusher:ping\",\"event\":\"pusher:pong\"}"},
        {"not_json", "{\"event\":"},
        {"native_publish", "{\"event\":\"E\",\"data\":{\"a\":[1,2]},\"seq\":3}"},
        {"native_join", "{\"event\":\"presence:join\",\"data\":{\"member\":{\"id\":\"u\","
                        "\"joinedAt\":1,\"info\":{\"n\":1}}},\"seq\":2}"},
        {"native_here", "{\"event\":\"presence:here\",\"data\":{\"members\":[{\"id\":\"a\"},"
                        "{\"id\":\"a\"},{\"id\":1}]},\"seq\":2}"},
        {"native_whisper", "{\"event\":\"whisper\",\"data\":{\"event\":\"typing\",\"data\":"
                           "null},\"user_id\":\"u\"}"},
    };
    for (size_t i = 0; i < sizeof(pm) / sizeof(pm[0]); i++) puts_("pusher_msg", pm[i][0], pm[i][1]);
}

/* ---- channels and config ------------------------------------------------------------------- */

static void text_seeds(void)
{
    static const char *ch[][2] = {
        {"public", "lobby"},
        {"private", "private-orders.42"},
        {"presence", "presence-room:7"},
        {"type_private", "chat?type=private"},
        {"type_presence", "chat?type=presence"},
        {"type_public_on_public", "chat?type=public"},
        {"downgrade_attempt", "private-chat?type=public"},
        {"crosstype_attempt", "presence-chat?type=private"},
        {"unknown_type", "chat?type=secret"},
        {"empty_type", "chat?type="},
        {"all_allowed_bytes", "Az09_-=@,.;:"},
        {"space", "a b"},
        {"slash", "a/b"},
        {"star", "orders*"},
        {"empty", ""},
    };
    for (size_t i = 0; i < sizeof(ch) / sizeof(ch[0]); i++) puts_("channel", ch[i][0], ch[i][1]);
    char name[200];
    memset(name, 'n', sizeof(name));
    put("channel", "len_164", name, 164);
    put("channel", "len_165", name, 165);
    memcpy(name + 157, "?type=private", 13);
    put("channel", "len_157_plus_private_prefix", name, 170);

    static const char *cf[][2] = {
        {"defaults", ""},
        {"listen_redis", "--listen\n127.0.0.1:9000\n--redis=redis://:secret@10.0.0.5:6380/2"},
        {"ipv6", "--listen=[::1]:8080"},
        {"redis_user_pass_at", "--redis=redis://user:p@ss@host:6379/15"},
        {"redis_no_port", "--redis=redis://redis.internal"},
        {"redis_bad_db", "--redis=redis://h/99999"},
        {"redis_port_0", "--redis=redis://h:0"},
        {"int_bounds", "--max-message-bytes=16\n--rx-buffer-bytes\n1048576\n--ping-interval=0"},
        {"int_overflow", "--send-queue-bytes=99999999999999999999"},
        {"bool_flag", "--insecure-any-token\n--allow-public-whisper=false"},
        {"choices", "--log-level=debug\n--log-format=yaml"},
        {"string", "--jwt-secret=abc\n--allowed-origins=https://a.example, https://b.example"},
        {"missing_value", "--node-id"},
        {"unknown_flag", "--listne=1:2"},
        {"positional", "serve"},
        {"help", "--redis=x\n--help"},
        {"version", "--version"},
        {"port_garbage", "--listen=host:80x"},
        {"port_sign", "--listen=host:+80"},
        {"router", "--api-key=k\n--sweep-interval-ms=1000\n--insecure-no-api-key"},
    };
    for (size_t i = 0; i < sizeof(cf) / sizeof(cf[0]); i++) puts_("config", cf[i][0], cf[i][1]);
}

/* ---- tokens -------------------------------------------------------------------------------- */

#define FAR "4102444800" /* 2100-01-01 */

static void token_seeds(void)
{
    static const char *claims[][2] = {
        {"private", "{\"sub\":\"alice\",\"exp\":" FAR ",\"channels\":[\"private-room\"]}"},
        {"presence_info", "{\"sub\":\"bob\",\"exp\":" FAR ",\"channels\":[\"presence-room\"],"
                          "\"info\":{\"name\":\"Bob\",\"avatar\":\"https://x/b.png\"}}"},
        {"prefix_grant", "{\"sub\":\"c\",\"exp\":" FAR ",\"channels\":[\"presence-*\",\"pri*\"]}"},
        {"star_grant", "{\"exp\":" FAR ",\"channels\":[\"*\"]}"},
        {"no_sub", "{\"exp\":" FAR ",\"channels\":[\"private-room\",\"presence-room\"]}"},
        {"expired", "{\"sub\":\"a\",\"exp\":1600000000,\"channels\":[\"private-room\"]}"},
        {"exp_in_leeway", "{\"sub\":\"a\",\"exp\":1699999996,\"channels\":[\"private-room\"]}"},
        {"exp_string", "{\"sub\":\"a\",\"exp\":\"" FAR "\",\"channels\":[\"private-room\"]}"},
        {"exp_float", "{\"sub\":\"a\",\"exp\":4.1e9,\"channels\":[\"private-room\"]}"},
        {"nbf_future", "{\"sub\":\"a\",\"exp\":" FAR ",\"nbf\":1800000000,\"channels\":[\"*\"]}"},
        {"nbf_string", "{\"sub\":\"a\",\"exp\":" FAR ",\"nbf\":\"0\",\"channels\":[\"*\"]}"},
        {"not_granted", "{\"sub\":\"a\",\"exp\":" FAR ",\"channels\":[\"private-other\"]}"},
        {"channels_string", "{\"sub\":\"a\",\"exp\":" FAR ",\"channels\":\"private-room\"}"},
        {"channels_mixed",
         "{\"sub\":\"a\",\"exp\":" FAR ",\"channels\":[1,null,\"private-room\"]}"},
        {"sub_number", "{\"sub\":7,\"exp\":" FAR ",\"channels\":[\"*\"]}"},
        {"sub_control", "{\"sub\":\"a\\nb\",\"exp\":" FAR ",\"channels\":[\"*\"]}"},
        {"sub_resp_injection",
         "{\"sub\":\"u 1\\\"*3\\r\\n$3\\r\\nDEL\",\"exp\":" FAR ",\"channels\":[\"*\"]}"},
        {"info_array", "{\"sub\":\"a\",\"exp\":" FAR ",\"channels\":[\"*\"],\"info\":[1]}"},
        {"not_object", "[1,2,3]"},
        {"not_json", "exp=" FAR},
        {"empty", ""},
    };
    char sub[200], buf[2048];
    for (size_t i = 0; i < sizeof(claims) / sizeof(claims[0]); i++)
        puts_("auth_claims", claims[i][0], claims[i][1]);
    memset(sub, 's', sizeof(sub));
    snprintf(buf, sizeof(buf), "{\"sub\":\"%.*s\",\"exp\":" FAR ",\"channels\":[\"*\"]}", 129, sub);
    puts_("auth_claims", "sub_129_bytes", buf);
    char info[1100];
    memset(info, 'i', sizeof(info));
    snprintf(buf, sizeof(buf),
             "{\"sub\":\"a\",\"exp\":" FAR ",\"channels\":[\"*\"],\"info\":{\"x\":\"%.*s\"}}", 1016,
             info); /* {"x":"..."} is 1024 bytes */
    puts_("auth_claims", "info_1024_bytes", buf);
    snprintf(buf, sizeof(buf),
             "{\"sub\":\"a\",\"exp\":" FAR ",\"channels\":[\"*\"],\"info\":{\"x\":\"%.*s\"}}", 1017,
             info);
    puts_("auth_claims", "info_1025_bytes", buf);

    /* whole tokens for auth_token: the same claims signed properly, and the classic attacks */
    const char *hs256 = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    for (size_t i = 0; i < 5; i++) {
        char *t = fz_sign(EVP_sha256(), hs256, claims[i][1], strlen(claims[i][1]));
        puts_("auth_token", claims[i][0], t);
        free(t);
    }
    const char *c0 = claims[0][1];
    char *t = fz_sign(EVP_sha512(), "{\"alg\":\"HS512\",\"typ\":\"JWT\"}", c0, strlen(c0));
    puts_("auth_token", "hs512_same_key", t);
    free(t);
    t = fz_sign(EVP_sha256(), "{\"alg\":\"HS512\",\"typ\":\"JWT\"}", c0, strlen(c0));
    puts_("auth_token", "header_hs512_sig_hs256", t);
    free(t);
    char *h = fz_b64url("{\"alg\":\"none\",\"typ\":\"JWT\"}", 27), *p = fz_b64url(c0, strlen(c0));
    snprintf(buf, sizeof(buf), "%s.%s.", h, p);
    puts_("auth_token", "alg_none", buf);
    snprintf(buf, sizeof(buf), "%s.%s", h, p);
    puts_("auth_token", "alg_none_two_parts", buf);
    free(h);
    h = fz_b64url("{\"alg\":\"RS256\",\"typ\":\"JWT\"}", 28);
    snprintf(buf, sizeof(buf), "%s.%s.c2lnbmF0dXJl", h, p);
    puts_("auth_token", "alg_rs256", buf);
    free(h);
    free(p);
    t = fz_sign(EVP_sha256(), hs256, c0, strlen(c0));
    size_t tl = strlen(t);
    t[tl - 1] = t[tl - 1] == 'A' ? 'B' : 'A';
    puts_("auth_token", "signature_flipped", t);
    t[tl - 1] = '\0';
    puts_("auth_token", "signature_truncated", t);
    free(t);
    t = fz_sign(EVP_sha256(), hs256, claims[5][1], strlen(claims[5][1]));
    puts_("auth_token", "expired", t);
    free(t);
    static const char *raw[][2] = {
        {"three_dots", "a.b.c"}, {"no_dots", "eyJhbGciOiJIUzI1NiJ9"}, {"many_dots", "a.b.c.d.e"},
        {"empty_parts", ".."},   {"bearer", "Bearer abc.def.ghi"},
    };
    for (size_t i = 0; i < sizeof(raw) / sizeof(raw[0]); i++)
        puts_("auth_token", raw[i][0], raw[i][1]);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 2;
    }
    root = argv[1];
    wire_seeds();
    json_seeds();
    text_seeds();
    token_seeds();
    return 0;
}

/* libbelfry's WebSocket protocol helpers and URL parser, without any I/O. */
#include "client/src/url.h"
#include "client/src/ws_proto.h"

#include <belfry/err.h>

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

TestSuite(client_ws_proto, .timeout = 10);

Test(client_ws_proto, accept_key_matches_rfc6455_example)
{
    char out[BF__WS_ACCEPT_LEN + 1];
    cr_assert_eq(bf__ws_accept_for("dGhlIHNhbXBsZSBub25jZQ==", out), 0);
    cr_expect_str_eq(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    char k1[BF__WS_KEY_LEN + 1], k2[BF__WS_KEY_LEN + 1];
    cr_assert_eq(bf__ws_make_key(k1), 0);
    cr_assert_eq(bf__ws_make_key(k2), 0);
    cr_expect_eq(strlen(k1), 24);
    cr_expect_str_neq(k1, k2, "keys are random");
}

static const char *KEY = "dGhlIHNhbXBsZSBub25jZQ==";

static int check(const char *hdr, int *status, long long *clen, char *err)
{
    return bf__ws_check_upgrade(hdr, strlen(hdr), KEY, status, clen, err, BF_ERR_LEN);
}

Test(client_ws_proto, upgrade_answers_are_checked)
{
    int status;
    long long clen;
    char err[BF_ERR_LEN];
    cr_expect_eq(check("HTTP/1.1 101 Switching Protocols\r\nupgrade: WebSocket\r\n"
                       "Connection: keep-alive, Upgrade\r\n"
                       "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
                       &status, &clen, err),
                 0, "%s", err);
    cr_expect_eq(status, 101);
    cr_expect_eq(check("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                       "Connection: Upgrade\r\nSec-WebSocket-Accept: AAAAPLMBiTxaQ9kYGzzhZRbK+xOo="
                       "\r\n\r\n",
                       &status, &clen, err),
                 BF_EPROTO);
    cr_expect(strstr(err, "Sec-WebSocket-Accept") != NULL, "%s", err);
    cr_expect_eq(check("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
                       "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
                       &status, &clen, err),
                 BF_EPROTO);
    cr_expect_str_eq(err, "101 without \"Upgrade: websocket\"");
    cr_expect_eq(check("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                       "Connection: Upgrade\r\nSec-WebSocket-Extensions: permessage-deflate\r\n"
                       "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
                       &status, &clen, err),
                 BF_EPROTO);
    cr_expect_eq(check("HTTP/1.1 404 Not Found\r\nContent-Length: 17\r\n\r\n", &status, &clen, err),
                 BF_EPROTO);
    cr_expect_eq(status, 404);
    cr_expect_eq(clen, 17);
    cr_expect_eq(check("SSH-2.0-OpenSSH\r\n\r\n", &status, &clen, err), BF_EPROTO);
    cr_expect_eq(status, 0);
}

/* Unmasks a frame the client encoded and checks header and payload. */
static void check_encoded(size_t len, size_t want_header)
{
    char *payload = malloc(len + 1);
    cr_assert_not_null(payload);
    for (size_t i = 0; i < len; i++) payload[i] = (char)('a' + i % 26);
    size_t flen;
    uint8_t *mem = bf__ws_encode(BF__WS_TEXT, payload, len, 16, &flen);
    cr_assert_not_null(mem);
    uint8_t *f = mem + 16;
    cr_expect_eq(flen, want_header + len);
    cr_expect_eq(f[0], 0x81, "FIN + text");
    cr_expect(f[1] & 0x80, "client frames are masked");
    uint64_t plen = f[1] & 0x7f;
    size_t h = 2;
    if (plen == 126) {
        plen = (uint64_t)f[2] << 8 | f[3];
        h = 4;
    } else if (plen == 127) {
        plen = 0;
        for (int i = 0; i < 8; i++) plen = plen << 8 | f[2 + i];
        h = 10;
    }
    cr_expect_eq(plen, len);
    cr_expect_eq(h + 4, want_header);
    const uint8_t *mask = f + h;
    for (size_t i = 0; i < len; i++)
        cr_assert_eq((char)(f[h + 4 + i] ^ mask[i & 3]), payload[i], "byte %zu", i);
    free(mem);
    free(payload);
}

Test(client_ws_proto, frames_are_encoded_masked_with_minimal_lengths)
{
    check_encoded(0, 6);
    check_encoded(125, 6);
    check_encoded(126, 8);
    check_encoded(65535, 8);
    check_encoded(65536, 14);
}

Test(client_ws_proto, server_frames_parse_incrementally)
{
    bf__ws_frame f;
    uint8_t small[] = {0x81, 0x05, 'h', 'e', 'l', 'l', 'o'};
    for (size_t n = 0; n < sizeof(small); n++)
        cr_expect_eq(bf__ws_parse(small, n, 1000, &f), 0, "incomplete at %zu bytes", n);
    cr_assert_eq(bf__ws_parse(small, sizeof(small), 1000, &f), 1);
    cr_expect_eq(f.fin, 1);
    cr_expect_eq(f.opcode, BF__WS_TEXT);
    cr_expect_eq(f.len, 5);
    cr_expect_eq(f.frame_len, 7);
    cr_expect_eq(memcmp(f.payload, "hello", 5), 0);

    uint8_t *mid = calloc(1, 4 + 300);
    mid[0] = 0x01; /* text, not final */
    mid[1] = 126;
    mid[2] = 300 >> 8;
    mid[3] = 300 & 0xff;
    cr_assert_eq(bf__ws_parse(mid, 4 + 300, 1000, &f), 1);
    cr_expect_eq(f.fin, 0);
    cr_expect_eq(f.len, 300);
    cr_expect_eq(bf__ws_parse(mid, 4 + 300, 299, &f), -BF__WS_TOO_BIG);
    free(mid);

    uint8_t big[10] = {0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0}; /* 65536 bytes announced */
    cr_expect_eq(bf__ws_parse(big, sizeof(big), 1 << 20, &f), 0, "waits for the payload");
    cr_expect_eq(bf__ws_parse(big, sizeof(big), 1000, &f), -BF__WS_TOO_BIG,
                 "refused as soon as the header says it is too big");
}

Test(client_ws_proto, protocol_violations_are_refused)
{
    bf__ws_frame f;
    uint8_t masked[] = {0x81, 0x81, 1, 2, 3, 4, 'x'};
    cr_expect_eq(bf__ws_parse(masked, sizeof(masked), 100, &f), -BF__WS_PROTOCOL_ERROR);
    uint8_t rsv[] = {0xc1, 0x00};
    cr_expect_eq(bf__ws_parse(rsv, sizeof(rsv), 100, &f), -BF__WS_PROTOCOL_ERROR);
    uint8_t opcode[] = {0x83, 0x00};
    cr_expect_eq(bf__ws_parse(opcode, sizeof(opcode), 100, &f), -BF__WS_PROTOCOL_ERROR);
    uint8_t frag_ping[] = {0x09, 0x00};
    cr_expect_eq(bf__ws_parse(frag_ping, sizeof(frag_ping), 100, &f), -BF__WS_PROTOCOL_ERROR);
    uint8_t long_ping[4] = {0x89, 126, 0, 126};
    cr_expect_eq(bf__ws_parse(long_ping, sizeof(long_ping), 1000, &f), -BF__WS_PROTOCOL_ERROR);
    uint8_t not_minimal[4] = {0x81, 126, 0, 5};
    cr_expect_eq(bf__ws_parse(not_minimal, sizeof(not_minimal), 1000, &f), -BF__WS_PROTOCOL_ERROR);
}

Test(client_ws_proto, utf8_validation)
{
    cr_expect(bf__ws_utf8_valid((const uint8_t *)"plain", 5));
    const char *mixed = "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80";
    cr_expect(bf__ws_utf8_valid((const uint8_t *)mixed, strlen(mixed)));
    cr_expect_not(bf__ws_utf8_valid((const uint8_t *)"\xc0\x80", 2), "overlong NUL");
    cr_expect_not(bf__ws_utf8_valid((const uint8_t *)"\xed\xa0\x80", 3), "surrogate");
    cr_expect_not(bf__ws_utf8_valid((const uint8_t *)"\xf4\x90\x80\x80", 4), "above U+10FFFF");
    cr_expect_not(bf__ws_utf8_valid((const uint8_t *)"\xe2\x82", 2), "truncated");
    cr_expect_not(bf__ws_utf8_valid((const uint8_t *)"\xff", 1));
    cr_expect_not(bf__ws_utf8_valid((const uint8_t *)"\x80", 1), "lone continuation");
}

Test(client_ws_proto, urls)
{
    bf__url u;
    char err[BF_ERR_LEN];
    cr_assert_eq(bf__url_parse("ws://127.0.0.1:8080/ws/orders?type=private&token=a.b.c", "ws", &u,
                               err, sizeof(err)),
                 0, "%s", err);
    cr_expect_str_eq(u.scheme, "ws");
    cr_expect_str_eq(u.host, "127.0.0.1");
    cr_expect_eq(u.port, 8080);
    cr_expect_str_eq(u.path, "/ws/orders?type=private&token=a.b.c");

    cr_assert_eq(bf__url_parse("WS://example.org", "ws", &u, err, sizeof(err)), 0);
    cr_expect_eq(u.port, 80);
    cr_expect_str_eq(u.path, "/");
    cr_assert_eq(bf__url_parse("ws://[::1]:9/ws/x#frag", "ws", &u, err, sizeof(err)), 0);
    cr_expect_str_eq(u.host, "::1");
    cr_expect_str_eq(u.path, "/ws/x");
    char hp[64];
    cr_assert_eq(bf__url_hostport(&u, hp, sizeof(hp)), 0);
    cr_expect_str_eq(hp, "[::1]:9");

    cr_assert_eq(bf__url_parse("http://:p%40ss@h:6380/3", "http", &u, err, sizeof(err)), 0, "%s",
                 err);
    cr_expect_str_eq(u.user, "");
    cr_expect_str_eq(u.password, "p@ss");
    cr_expect_eq(u.port, 6380);
    cr_expect_str_eq(u.path, "/3");
    cr_assert_eq(bf__url_parse("http://app:s@cret@h", "http", &u, err, sizeof(err)), 0);
    cr_expect_str_eq(u.user, "app");
    cr_expect_str_eq(u.password, "s@cret");
    cr_expect_str_eq(u.host, "h");
    cr_expect_eq(u.port, 80);
    /* redis:// belongs to common/redis_url.c (tests/unit/redis_url.c) */
    cr_expect_eq(bf__url_parse("redis://h", "http", &u, err, sizeof(err)), BF_EINVAL);

    cr_expect_eq(bf__url_parse("wss://h/ws/x", "ws", &u, err, sizeof(err)), BF_EINVAL);
    cr_expect_str_eq(err, "URL scheme 'wss' is not supported here (expected ws)");
    cr_expect_eq(bf__url_parse("h:80/ws/x", "ws", &u, err, sizeof(err)), BF_EINVAL);
    cr_expect_eq(bf__url_parse("ws://h:0/", "ws", &u, err, sizeof(err)), BF_EINVAL);
    cr_expect_eq(bf__url_parse("ws://h:80x/", "ws", &u, err, sizeof(err)), BF_EINVAL);
    cr_expect_eq(bf__url_parse("ws://:80/", "ws", &u, err, sizeof(err)), BF_EINVAL);
    cr_expect_eq(bf__url_parse("ws://h/a b", "ws", &u, err, sizeof(err)), BF_EINVAL);
    cr_expect_eq(bf__url_parse("ws://[::1/", "ws", &u, err, sizeof(err)), BF_EINVAL);
    cr_expect_eq(bf__url_parse("http://:%zz@h", "http", &u, err, sizeof(err)), BF_EINVAL);
    cr_expect_eq(bf__url_parse(NULL, "ws", &u, err, sizeof(err)), BF_EINVAL);

    char out[8];
    cr_expect_eq(bf__url_decode("a%2Fb", 5, out, sizeof(out)), 3);
    cr_expect_str_eq(out, "a/b");
    cr_expect_eq(bf__url_decode("a%2", 3, out, sizeof(out)), BF_EINVAL);
    cr_expect_eq(bf__url_decode("%00", 3, out, sizeof(out)), BF_EINVAL);
    cr_expect_eq(bf__url_decode("12345678", 8, out, sizeof(out)), BF_EINVAL, "too long");
}

/* Helpers shared by the libFuzzer harnesses (header-only: each harness is one executable).
 *
 * Harnesses check properties, not just "no crash": whatever a parser accepts must satisfy its
 * header's contract, and a violated property aborts through FZ_CHECK so libFuzzer records the
 * input like any ASan/UBSan finding. */
#ifndef BF_FUZZ_UTIL_H
#define BF_FUZZ_UTIL_H

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FZ_CHECK(cond, ...)                                                                        \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "property violated at %s:%d: %s: ", __FILE__, __LINE__, #cond);        \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* The gateway's JWT secret in the auth harnesses and in the seeds signed for them. */
#define FZ_SECRET "fuzz-secret-0123456789abcdef0123456789abcdef"
/* The clock the auth harnesses run at (tokens in the seeds expire in 2100). */
#define FZ_NOW 1700000000LL

/* A malloc'd NUL-terminated copy of data[0..len) (caller frees). Embedded NULs stay, so C-string
 * consumers see the prefix up to the first one, exactly as they would from a socket. */
static inline char *fz_strndup(const uint8_t *data, size_t len)
{
    char *s = malloc(len + 1);
    if (len) memcpy(s, data, len);
    s[len] = '\0';
    return s;
}

/* Unpadded base64url of p[0..len) into a malloc'd string (caller frees). */
static inline char *fz_b64url(const void *p, size_t len)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const unsigned char *b = p;
    char *out = malloc(len / 3 * 4 + 5), *o = out;
    size_t i = 0;
    for (; i + 2 < len; i += 3) {
        uint32_t v = (uint32_t)b[i] << 16 | (uint32_t)b[i + 1] << 8 | b[i + 2];
        *o++ = tab[v >> 18];
        *o++ = tab[(v >> 12) & 63];
        *o++ = tab[(v >> 6) & 63];
        *o++ = tab[v & 63];
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t)b[i] << 16;
        *o++ = tab[v >> 18];
        *o++ = tab[(v >> 12) & 63];
    } else if (len - i == 2) {
        uint32_t v = (uint32_t)b[i] << 16 | (uint32_t)b[i + 1] << 8;
        *o++ = tab[v >> 18];
        *o++ = tab[(v >> 12) & 63];
        *o++ = tab[(v >> 6) & 63];
    }
    *o = '\0';
    return out;
}

/* base64url(HMAC(md, FZ_SECRET, msg)) without padding: the canonical JWS signature that libjwt
 * 1.10 compares the token's third part against (as a string). Caller frees. */
static inline char *fz_hmac_sig(const EVP_MD *md, const char *msg, size_t len)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    HMAC(md, FZ_SECRET, (int)strlen(FZ_SECRET), (const unsigned char *)msg, len, mac, &maclen);
    return fz_b64url(mac, maclen);
}

/* Builds header.claims.signature with the raw bytes of header and claims, signed with md and
 * FZ_SECRET. Caller frees. */
static inline char *fz_sign(const EVP_MD *md, const char *header, const void *claims, size_t len)
{
    char *h = fz_b64url(header, strlen(header)), *c = fz_b64url(claims, len);
    size_t hl = strlen(h), cl = strlen(c);
    char *t = malloc(hl + cl + 2 + 90);
    memcpy(t, h, hl);
    t[hl] = '.';
    memcpy(t + hl + 1, c, cl + 1);
    char *s = fz_hmac_sig(md, t, hl + 1 + cl);
    t[hl + 1 + cl] = '.';
    strcpy(t + hl + 2 + cl, s);
    free(s);
    free(h);
    free(c);
    return t;
}

#endif

#include "hmac.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

static void to_hex(const unsigned char *d, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 15];
    }
    out[2 * n] = '\0';
}

void bf_hmac_sha256_hexv(const void *key, size_t keylen, const void *const *parts,
                         const size_t *lens, size_t n, char out[BF_SHA256_HEX_LEN + 1])
{
    /* RFC 2104 over EVP digests: the parts are hashed where they lie (no signed string is built),
     * and HMAC_CTX, which would do the same, is deprecated in OpenSSL 3. */
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    unsigned char k[64] = {0}, ipad[64], opad[64];
    if (keylen > 64) {
        unsigned int kl = 0;
        EVP_Digest(key, keylen, k, &kl, EVP_sha256(), NULL);
    } else if (keylen) {
        memcpy(k, key, keylen);
    }
    for (int i = 0; i < 64; i++) {
        ipad[i] = k[i] ^ 0x36;
        opad[i] = k[i] ^ 0x5c;
    }
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    unsigned char inner[EVP_MAX_MD_SIZE];
    unsigned int innerlen = 0;
    if (!c) abort();
    EVP_DigestInit_ex(c, EVP_sha256(), NULL);
    EVP_DigestUpdate(c, ipad, 64);
    for (size_t i = 0; i < n; i++)
        if (lens[i]) EVP_DigestUpdate(c, parts[i], lens[i]);
    EVP_DigestFinal_ex(c, inner, &innerlen);
    EVP_DigestInit_ex(c, EVP_sha256(), NULL);
    EVP_DigestUpdate(c, opad, 64);
    EVP_DigestUpdate(c, inner, innerlen);
    EVP_DigestFinal_ex(c, md, &mdlen);
    EVP_MD_CTX_free(c);
    OPENSSL_cleanse(k, sizeof(k));
    OPENSSL_cleanse(ipad, sizeof(ipad));
    OPENSSL_cleanse(opad, sizeof(opad));
    to_hex(md, mdlen, out);
}

void bf_hmac_sha256_hex(const void *key, size_t keylen, const void *msg, size_t msglen,
                        char out[BF_SHA256_HEX_LEN + 1])
{
    const void *parts[1] = {msg};
    size_t lens[1] = {msglen};
    bf_hmac_sha256_hexv(key, keylen, parts, lens, 1, out);
}

void bf_md5_hex(const void *msg, size_t len, char out[BF_MD5_HEX_LEN + 1])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_Digest(msg, len, md, &mdlen, EVP_md5(), NULL);
    to_hex(md, mdlen, out);
}

bool bf_ct_equal(const void *a, size_t alen, const void *b, size_t blen)
{
    if (alen != blen) return false;
    return alen == 0 || CRYPTO_memcmp(a, b, alen) == 0;
}

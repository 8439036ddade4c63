/* HMAC-SHA256 and MD5 as lower-case hex, and a constant-time comparison: the primitives of the
 * Pusher signatures (channel authorisation, user sign-in, the HTTP API's auth_signature and
 * body_md5, webhook X-Pusher-Signature). OpenSSL's libcrypto does the hashing. */
#ifndef BF_HMAC_H
#define BF_HMAC_H

#include <stdbool.h>
#include <stddef.h>

#define BF_SHA256_HEX_LEN 64
#define BF_MD5_HEX_LEN 32

/* out receives 64 hex characters and a NUL (capacity BF_SHA256_HEX_LEN + 1). */
void bf_hmac_sha256_hex(const void *key, size_t keylen, const void *msg, size_t msglen,
                        char out[BF_SHA256_HEX_LEN + 1]);

/* The same over the concatenation of n parts (avoids building the signed string). */
void bf_hmac_sha256_hexv(const void *key, size_t keylen, const void *const *parts,
                         const size_t *lens, size_t n, char out[BF_SHA256_HEX_LEN + 1]);

/* out receives 32 hex characters and a NUL. */
void bf_md5_hex(const void *msg, size_t len, char out[BF_MD5_HEX_LEN + 1]);

/* True when a[0..alen) equals b[0..blen). The time taken depends only on the lengths, never on
 * where the bytes differ (CRYPTO_memcmp). */
bool bf_ct_equal(const void *a, size_t alen, const void *b, size_t blen);

#endif

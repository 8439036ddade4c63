/* Error codes shared by every Belfry module.
 *
 * Functions return 0 on success or one of the negative BF_E* codes below; bf_strerror() turns a
 * code into a short, stable message suitable for logs. The table is an X-macro so that the enum
 * and the strings can never drift apart. */
#ifndef BF_ERR_H
#define BF_ERR_H

#define BF_ERR_LEN 256 /* size of the caller-provided err buffers filled by constructors */

#define BF_ERRNO_MAP(X)                                                                            \
    X(ENOMEM, -1, "out of memory")                                                                 \
    X(EINVAL, -2, "invalid argument")                                                              \
    X(ERANGE, -3, "value out of range")                                                            \
    X(EPROTO, -4, "malformed message")                                                             \
    X(ETOOBIG, -5, "message too large")                                                            \
    X(EDISCONNECTED, -6, "not connected")                                                          \
    X(EIO, -7, "i/o error")                                                                        \
    X(ENOTFOUND, -8, "not found")                                                                  \
    X(EAUTH, -9, "not authorized")                                                                 \
    X(EFULL, -10, "queue full")                                                                    \
    X(ETIMEDOUT, -11, "timed out")                                                                 \
    X(EREDIS, -12, "redis error")                                                                  \
    X(EHTTP, -13, "http error")

enum {
#define BF_ERR_ENUM(name, code, msg) BF_##name = (code),
    BF_ERRNO_MAP(BF_ERR_ENUM)
#undef BF_ERR_ENUM
};

/* Marks libbelfry's public API: the library is built with -fvisibility=hidden, so only what carries
 * BF_EXTERN is exported (tests/install/symbols_test.sh checks the list against the headers). In
 * the daemons, which are built without it, it changes nothing. */
#ifndef BF_EXTERN
#if defined(__GNUC__) || defined(__clang__)
#define BF_EXTERN __attribute__((visibility("default")))
#else
#define BF_EXTERN
#endif
#endif

/* Returns a static string for a BF_E* code (or "unknown error"). Never NULL; caller must not free.
 */
BF_EXTERN const char *bf_strerror(int code);

#endif

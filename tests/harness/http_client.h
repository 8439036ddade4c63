/* A minimal blocking HTTP/1.1 client for tests (one request per connection). */
#ifndef BF_HTTP_CLIENT_H
#define BF_HTTP_CLIENT_H

#include <stddef.h>

typedef struct bf_http_resp {
    int status;    /* 0 if no response */
    char *headers; /* malloc'd raw header block */
    char *body;    /* malloc'd, NUL-terminated */
    size_t body_len;
} bf_http_resp;

/* Sends method path to 127.0.0.1:port with optional extra headers ("Name: value\r\n...") and
 * body. Returns 0 and fills *r (caller frees with bf_http_resp_free), or -1 on I/O failure. */
int bf_http(int port, const char *method, const char *path, const char *headers, const char *body,
            size_t body_len, bf_http_resp *r, int timeout_ms);
void bf_http_resp_free(bf_http_resp *r);

/* The value of one sample on 127.0.0.1:port's /metrics (Prometheus text): name is the sample's
 * whole name with its labels, e.g. "belfry_gateway_auth_failures_total{reason=\"expired\"}".
 * Returns -1 when the request fails or the sample is absent. */
long long bf_metric(int port, const char *name);

#endif

#include "payload.h"

#include <stdio.h>
#include <string.h>

int bb_payload_write(char *out, size_t cap, size_t size, const bb_payload *pl)
{
    /* The head is formatted into a buffer that always holds it and then copied: snprintf
     * straight into `out` makes gcc -O3 (-Wformat-truncation=1) warn wherever it can see a small
     * `cap` at the call site, although the truncation is exactly what the check below refuses. */
    char head[96];
    int n = snprintf(head, sizeof(head), "{\"_t\":%llu,\"_g\":%llu,\"_c\":%u,\"_k\":%u,\"_p\":\"",
                     (unsigned long long)pl->t, (unsigned long long)pl->g, pl->c, pl->k);
    if (n < 0 || (size_t)n >= sizeof(head) || (size_t)n >= cap) return -1;
    memcpy(out, head, (size_t)n);
    size_t pad = size > (size_t)n + 2 ? size - (size_t)n - 2 : 0;
    if ((size_t)n + pad + 3 > cap) return -1;
    memset(out + n, 'x', pad);
    memcpy(out + n + pad, "\"}", 3);
    return n + (int)pad + 2;
}

/* The first "_X" (quotes included) at or after p: memchr for the underscore is several times
 * cheaper than memmem on every received frame, which matters when the bench is the busy side. */
static const char *find_key(const char *p, const char *end, char x)
{
    while (end - p >= 3) {
        const char *u = memchr(p, '_', (size_t)(end - p));
        if (!u || end - u < 3) return NULL;
        if (u > p && u[-1] == '"' && u[1] == x && u[2] == '"') return u - 1;
        p = u + 1;
    }
    return NULL;
}

/* The unsigned number after "_x" and a colon (spaces allowed), searching from p. */
static const char *number_after(const char *p, const char *end, char x, uint64_t *v)
{
    const char *k = find_key(p, end, x);
    if (!k) return NULL;
    const char *q = k + 4;
    while (q < end && (*q == ' ' || *q == ':')) q++;
    if (q >= end || *q < '0' || *q > '9') return NULL;
    uint64_t n = 0;
    while (q < end && *q >= '0' && *q <= '9') n = n * 10 + (uint64_t)(*q++ - '0');
    *v = n;
    return q;
}

int bb_payload_find(const char *p, size_t len, bb_payload *out)
{
    const char *end = p + len, *q;
    uint64_t c, k;
    if (!(q = number_after(p, end, 't', &out->t))) return -1;
    if (!(q = number_after(q, end, 'g', &out->g))) return -1;
    if (!(q = number_after(q, end, 'c', &c))) return -1;
    if (!number_after(q, end, 'k', &k)) return -1;
    out->c = (uint32_t)c;
    out->k = (uint32_t)k;
    return 0;
}

#include "http_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void bf_http_resp_free(bf_http_resp *r)
{
    free(r->headers);
    free(r->body);
    memset(r, 0, sizeof(*r));
}

static int send_all(int fd, const char *p, size_t len)
{
    while (len) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int bf_http(int port, const char *method, const char *path, const char *headers, const char *body,
            size_t body_len, bf_http_resp *r, int timeout_ms)
{
    memset(r, 0, sizeof(*r));
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
        close(fd);
        return -1;
    }
    char head[4096];
    int n = snprintf(head, sizeof(head),
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n%s"
                     "Content-Length: %zu\r\n\r\n",
                     method, path, port, headers ? headers : "", body ? body_len : 0);
    if (send_all(fd, head, (size_t)n) || (body && body_len && send_all(fd, body, body_len))) {
        close(fd);
        return -1;
    }
    size_t cap = 8192, len = 0;
    char *buf = malloc(cap);
    long long deadline = now_ms() + timeout_ms;
    for (;;) {
        long long left = deadline - now_ms();
        if (left <= 0) break;
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, (int)left) <= 0) break;
        if (len + 4096 > cap) buf = realloc(buf, cap *= 2);
        ssize_t k = recv(fd, buf + len, cap - len - 1, 0);
        if (k <= 0) break;
        len += (size_t)k;
        /* stop once headers plus Content-Length bytes of body are in */
        buf[len] = '\0';
        char *eoh = strstr(buf, "\r\n\r\n");
        if (eoh) {
            const char *cl = strcasestr(buf, "\r\ncontent-length:");
            if (cl && cl < eoh) {
                size_t want = (size_t)strtoul(cl + 17, NULL, 10);
                if (len >= (size_t)(eoh + 4 - buf) + want) break;
            } else if (!strncmp(buf + 9, "204", 3) || !strncmp(buf + 9, "304", 3)) {
                break;
            }
        }
    }
    close(fd);
    buf[len] = '\0';
    char *eoh = strstr(buf, "\r\n\r\n");
    if (len < 12 || !eoh) {
        free(buf);
        return -1;
    }
    r->status = atoi(buf + 9);
    r->headers = strndup(buf, (size_t)(eoh - buf));
    r->body_len = len - (size_t)(eoh + 4 - buf);
    r->body = malloc(r->body_len + 1);
    memcpy(r->body, eoh + 4, r->body_len);
    r->body[r->body_len] = '\0';
    free(buf);
    return 0;
}

long long bf_metric(int port, const char *name)
{
    bf_http_resp r;
    if (bf_http(port, "GET", "/metrics", NULL, NULL, 0, &r, 3000) != 0) return -1;
    long long v = -1;
    size_t nl = strlen(name);
    for (const char *p = r.body; p && (p = strstr(p, name)); p += nl) {
        if ((p == r.body || p[-1] == '\n') && p[nl] == ' ') {
            v = atoll(p + nl + 1);
            break;
        }
    }
    bf_http_resp_free(&r);
    return v;
}

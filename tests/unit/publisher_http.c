/* The publisher's HTTP/1.1 client against a scripted server thread: the request it sends,
 * keep-alive, Connection: close, chunked bodies, error bodies, and the one retry it allows (a
 * kept-alive connection the server had closed, never a fresh one). */
#include <belfry/publisher.h>

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define DROP "DROP"        /* read the request, then close without answering */
#define CLOSE_AFTER "\x01" /* prefix: close the connection after this answer */

typedef struct server {
    int fd, port;
    const char *script[8]; /* one answer per request */
    int n;
    int accepts, requests;
    char seen[8][1024]; /* the requests, as received */
    pthread_t thread;
} server;

/* Reads one request (headers and Content-Length body) into out; returns 0, or -1 on EOF. */
static int read_request(int fd, char *out, size_t cap)
{
    size_t len = 0;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 5000) != 1) return -1;
        ssize_t n = recv(fd, out + len, cap - 1 - len, 0);
        if (n <= 0) return -1;
        len += (size_t)n;
        out[len] = '\0';
        char *end = strstr(out, "\r\n\r\n");
        const char *cl = strcasestr(out, "Content-Length:");
        if (end && cl && len >= (size_t)(end + 4 - out) + (size_t)atol(cl + 15)) return 0;
    }
}

static void *serve(void *arg)
{
    server *s = arg;
    int i = 0;
    while (i < s->n) {
        struct pollfd p = {.fd = s->fd, .events = POLLIN};
        if (poll(&p, 1, 5000) != 1) break;
        int c = accept(s->fd, NULL, NULL);
        if (c < 0) break;
        s->accepts++;
        while (i < s->n) {
            if (read_request(c, s->seen[s->requests % 8], sizeof(s->seen[0]))) break;
            s->requests++;
            const char *a = s->script[i++];
            if (!strcmp(a, DROP)) break;
            bool close_after = a[0] == CLOSE_AFTER[0];
            if (close_after) a++;
            send(c, a, strlen(a), MSG_NOSIGNAL);
            if (close_after) break;
        }
        close(c);
    }
    return NULL;
}

static void start(server *s)
{
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof(sa);
    cr_assert_eq(bind(s->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    cr_assert_eq(listen(s->fd, 8), 0);
    getsockname(s->fd, (struct sockaddr *)&sa, &sl);
    s->port = ntohs(sa.sin_port);
    while (s->script[s->n]) s->n++;
    pthread_create(&s->thread, NULL, serve, s);
}

static void stop(server *s)
{
    pthread_join(s->thread, NULL);
    close(s->fd);
}

static bf_publisher *publisher_for(const server *s, const char *base)
{
    char url[128], err[BF_ERR_LEN];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", s->port, base);
    bf_publisher_opts o = {.url = url, .api_key = "the-key", .timeout_ms = 3000};
    bf_publisher *p = bf_publisher_new(&o, err);
    cr_assert_not_null(p, "%s", err);
    return p;
}

#define OK "HTTP/1.1 204 No Content\r\n\r\n"

TestSuite(publisher_http, .timeout = 20);

Test(publisher_http, requests_are_well_formed_and_share_one_connection)
{
    server s = {.script = {OK, OK, OK}};
    start(&s);
    bf_publisher *p = publisher_for(&s, "/base/");
    bf_channel_result res;
    for (int i = 0; i < 3; i++)
        cr_expect_eq(bf_publisher_publish(p, "private-orders.1", "E", "{\"a\":1}", &res), 0, "%s",
                     res.message);
    cr_expect_eq(res.status, 204);
    stop(&s);
    cr_expect_eq(s.accepts, 1, "keep-alive: one connection for three requests");
    cr_expect_eq(s.requests, 3);
    char host[64];
    snprintf(host, sizeof(host), "\r\nHost: 127.0.0.1:%d\r\n", s.port);
    const char *r = s.seen[0];
    cr_expect(strstr(r, "POST /base/broadcast/private-orders.1 HTTP/1.1\r\n") == r, "%s", r);
    cr_expect(strstr(r, host) != NULL, "%s", r);
    cr_expect(strstr(r, "\r\nAuthorization: Bearer the-key\r\n") != NULL, "%s", r);
    cr_expect(strstr(r, "\r\nContent-Type: application/json\r\n") != NULL, "%s", r);
    cr_expect(strstr(r, "\r\nContent-Length: 28\r\n") != NULL, "%s", r);
    cr_expect(strstr(r, "\r\n\r\n{\"event\":\"E\",\"data\":{\"a\":1}}") != NULL, "%s", r);
    bf_publisher_free(p);
}

Test(publisher_http, error_bodies_chunked_or_not_are_reported)
{
    server s = {
        .script = {"HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n"
                   "14\r\n{\"error\":{\"code\":\"ba\r\n"
                   "1b\r\nd_event\",\"message\":\"nope\"}}\r\n0\r\n\r\n",
                   "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\noops",
                   "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                   "Content-Length: 62\r\n\r\n"
                   "{\"error\":{\"code\":\"redis_unavailable\",\"message\":\"retry later\"}}",
                   OK}};
    start(&s);
    bf_publisher *p = publisher_for(&s, "");
    bf_channel_result res;
    cr_expect_eq(bf_publisher_publish(p, "c", "E", NULL, &res), BF_EINVAL);
    cr_expect_eq(res.status, 400);
    cr_expect_str_eq(res.code, "bad_event");
    cr_expect_str_eq(res.message, "nope");
    cr_expect_eq(bf_publisher_publish(p, "c", "E", NULL, &res), BF_EHTTP);
    cr_expect_eq(res.status, 500);
    cr_expect_str_eq(res.code, "http_error");
    cr_expect_str_eq(res.message, "HTTP 500: oops");
    cr_expect_eq(bf_publisher_publish(p, "c", "E", NULL, &res), BF_EHTTP);
    cr_expect_str_eq(res.code, "redis_unavailable");
    cr_expect_str_eq(res.message, "retry later");
    cr_expect_eq(bf_publisher_publish(p, "c", "E", NULL, &res), 0, "%s", res.message);
    stop(&s);
    cr_expect_eq(s.accepts, 1);
    bf_publisher_free(p);
}

Test(publisher_http, connection_close_is_honoured)
{
    server s = {.script = {CLOSE_AFTER "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n", OK}};
    start(&s);
    bf_publisher *p = publisher_for(&s, "");
    cr_expect_eq(bf_publisher_publish(p, "c", "E", NULL, NULL), 0);
    cr_expect_eq(bf_publisher_publish(p, "c", "E", NULL, NULL), 0);
    stop(&s);
    cr_expect_eq(s.accepts, 2);
    bf_publisher_free(p);
}

Test(publisher_http, a_kept_connection_the_server_dropped_is_retried_once)
{
    /* answer, then read the next request and hang up: the client cannot know before sending */
    server s = {.script = {OK, DROP, OK}};
    start(&s);
    bf_publisher *p = publisher_for(&s, "");
    bf_channel_result res;
    cr_expect_eq(bf_publisher_publish(p, "c", "E", "1", &res), 0, "%s", res.message);
    cr_expect_eq(bf_publisher_publish(p, "c", "E", "2", &res), 0, "%s", res.message);
    stop(&s);
    cr_expect_eq(s.accepts, 2);
    cr_expect_eq(s.requests, 3, "the dropped request was sent again on a new connection");
    bf_publisher_free(p);
}

Test(publisher_http, a_fresh_connection_is_never_retried)
{
    server s = {.script = {DROP}};
    start(&s);
    bf_publisher *p = publisher_for(&s, "");
    bf_channel_result res;
    cr_expect_eq(bf_publisher_publish(p, "c", "E", NULL, &res), BF_EIO);
    cr_expect_str_eq(res.code, "io_error");
    cr_expect(strstr(res.message, "closed the connection without answering") != NULL, "%s",
              res.message);
    stop(&s);
    cr_expect_eq(s.accepts, 1);
    cr_expect_eq(s.requests, 1);
    bf_publisher_free(p);
}

Test(publisher_http, an_idle_connection_closed_by_the_server_is_replaced_before_sending)
{
    server s = {.script = {CLOSE_AFTER OK, OK}}; /* no Connection: close header, just a close */
    start(&s);
    bf_publisher *p = publisher_for(&s, "");
    cr_expect_eq(bf_publisher_publish(p, "c", "E", NULL, NULL), 0);
    usleep(50 * 1000); /* let the server's FIN arrive: that is the situation under test */
    cr_expect_eq(bf_publisher_publish(p, "c", "E", NULL, NULL), 0);
    stop(&s);
    cr_expect_eq(s.accepts, 2);
    cr_expect_eq(s.requests, 2, "the stale connection was noticed before sending");
    bf_publisher_free(p);
}

/* Prints the messages of one channel with libbelfry's client, reconnecting as needed.
 *
 *   belfry-example-subscribe ws://127.0.0.1:8080/ws/dashboard [COUNT] [SECONDS]
 *
 * Prints "connected" once open, then one line per message: EVENT SEQ DATA. Exits 0 after COUNT
 * messages (default: run until SECONDS pass, default 0 = forever), 1 on timeout. */
#include <belfry/client.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

static long want, got;
static uv_timer_t deadline;
static int timed_out;

static void on_connect(bf_client *c, void *arg)
{
    (void)arg;
    printf("connected to %s\n", bf_client_channel(c));
    fflush(stdout);
}

static void on_disconnect(bf_client *c, int code, const char *reason, void *arg)
{
    (void)arg;
    printf("disconnected: %d %s\n", code, reason);
    fflush(stdout);
    if (bf_client_get_state(c) == BF_CLIENT_CLOSED) {
        bf_client_free(c); /* safe inside the client's own callback */
        uv_close((uv_handle_t *)&deadline, NULL);
    }
}

static void on_gap(bf_client *c, uint64_t expected, uint64_t got_seq, void *arg)
{
    (void)c;
    (void)arg;
    printf("gap: expected seq %llu, got %llu\n", (unsigned long long)expected,
           (unsigned long long)got_seq);
}

static void on_message(bf_client *c, const bf_client_msg *m, void *arg)
{
    (void)arg;
    printf("%s %llu %s\n", m->event, (unsigned long long)m->seq, m->data);
    fflush(stdout);
    if (want && ++got == want) bf_client_close(c); /* on_disconnect then frees it */
}

static void on_deadline(uv_timer_t *t)
{
    timed_out = 1;
    bf_client_free(t->data);
    uv_close((uv_handle_t *)t, NULL);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s ws://HOST:PORT/ws/CHANNEL [COUNT] [SECONDS]\n", argv[0]);
        return 2;
    }
    want = argc > 2 ? atol(argv[2]) : 0;
    long seconds = argc > 3 ? atol(argv[3]) : 0;
    signal(SIGPIPE, SIG_IGN); /* as in any libuv program: write errors come back as codes */

    uv_loop_t loop;
    uv_loop_init(&loop);
    char err[BF_ERR_LEN];
    bf_client_opts o = {
        .url = argv[1],
        .initial_delay_ms = 500,
        .on_connect = on_connect,
        .on_disconnect = on_disconnect,
        .on_gap = on_gap,
    };
    bf_client *c = bf_client_new(&loop, &o, err);
    if (!c) {
        fprintf(stderr, "subscribe: %s\n", err);
        return 2;
    }
    bf_client_subscribe(c, "*", on_message, NULL); /* every message of the socket's channel */
    uv_timer_init(&loop, &deadline);
    deadline.data = c;
    if (seconds > 0)
        uv_timer_start(&deadline, on_deadline, (uint64_t)seconds * 1000, 0);
    else
        uv_unref((uv_handle_t *)&deadline);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return timed_out ? 1 : 0;
}

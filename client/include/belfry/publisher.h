/* Publishing events to a Belfry cluster from C.
 *
 * This is the C counterpart of @roostjs/broadcast's server side:
 *
 *   Channel / PrivateChannel / PresenceChannel  ->  bf_channel_public / _private / _presence
 *   BroadcastableEvent                          ->  bf_event + bf_event_class
 *   BroadcastManager                            ->  bf_publisher
 *   BroadcastManager.get() / set()              ->  bf_publisher_get() / bf_publisher_set()
 *   BroadcastServiceProvider.register()         ->  bf_publisher_register() (from the environment)
 *   BroadcastManager.fake() / restore() / assert ->  bf_publisher_fake() / _restore() / _assert_*
 *
 * A publisher sends through one transport, chosen by its URL:
 *   http://HOST:PORT[/BASE]          POST BASE/broadcast/{channel} on a router with the API key, on
 *                                    one kept-alive connection; every channel gets an answer.
 *   redis://[[USER]:PW@]HOST:PORT[/DB]  PUBLISH {prefix}publish:{channel}; at-most-once, the only
 *                                    answer is whether some router was listening.
 *
 * An event is any struct whose first member is a bf_event pointing at a constant bf_event_class,
 * the "class" with the type name and the three broadcast functions:
 *
 *     typedef struct order_shipped {
 *         bf_event base;              // first member
 *         long id;
 *     } order_shipped;
 *
 *     static int order_on(const bf_event *e, bf_channel *out, size_t cap)
 *     {
 *         const order_shipped *o = (const order_shipped *)e;
 *         out[0] = bf_channel_fmt(BF_CHANNEL_PRIVATE, "orders.%ld", o->id);  // private-orders.42
 *         out[1] = bf_channel_public("dashboard");
 *         return 2;                   // cap is BF_EVENT_MAX_CHANNELS, at least 2
 *     }
 *
 *     static json_t *order_with(const bf_event *e)
 *     {
 *         return json_pack("{s:I}", "id", (json_int_t)((const order_shipped *)e)->id);
 *     }
 *
 *     static const bf_event_class ORDER_SHIPPED = {
 *         .type_name = "OrderShipped",  // also the wire event name unless broadcast_as is set
 *         .broadcast_on = order_on,
 *         .broadcast_with = order_with,
 *     };
 *
 *     order_shipped ev = {{&ORDER_SHIPPED}, 42};
 *     bf_broadcast_report rep;
 *     if (bf_publisher_broadcast(bf_publisher_get(NULL), &ev.base, &rep))
 *         for (size_t i = 0; i < rep.n; i++) ...rep.results[i].status, .message...
 *     bf_broadcast_report_deinit(&rep);
 *
 * Calls are blocking, bounded by the publisher's timeout (default 5 s); publish from a worker, not
 * from inside a latency-sensitive event loop callback. A bf_publisher, the process-wide default and
 * the fake's recordings are not thread-safe: use one publisher per thread, and set the default (or
 * start faking) before other threads use it. Writes to a closed socket are made without SIGPIPE.
 * Functions return 0 or a negative BF_E* code (<belfry/err.h>, bf_strerror()). */
#ifndef BELFRY_PUBLISHER_H
#define BELFRY_PUBLISHER_H

#include <belfry/err.h>

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- channels ---------------------------------------------------------------------------- */

#define BF_CHANNEL_NAME_MAX 164 /* bytes of a wire name, prefix included */
#define BF_EVENT_MAX_CHANNELS 32

typedef enum { BF_CHANNEL_PUBLIC = 0, BF_CHANNEL_PRIVATE, BF_CHANNEL_PRESENCE } bf_channel_kind;

/* A channel by value. name is the wire name: the private and presence kinds carry their
 * "private-" / "presence-" prefix, which is what makes the server treat them so. A channel built
 * from an invalid name has valid == false and keeps the rejected name (truncated) for messages;
 * broadcasting to it fails for that channel only. */
typedef struct bf_channel {
    bf_channel_kind kind;
    bool valid;
    char name[BF_CHANNEL_NAME_MAX + 1];
} bf_channel;

/* bf_channel_private("orders.1").name is "private-orders.1"; a name that already carries the
 * right prefix is kept as is. Valid names are 1..164 bytes (prefix included) of
 * [A-Za-z0-9_-=@,.;:]; a public channel may not start with "private-" or "presence-", and a
 * private one not with "presence-". name is borrowed (copied). */
BF_EXTERN bf_channel bf_channel_public(const char *name);
BF_EXTERN bf_channel bf_channel_private(const char *name);
BF_EXTERN bf_channel bf_channel_presence(const char *name);
/* The same with a printf format for the name. */
BF_EXTERN bf_channel bf_channel_fmt(bf_channel_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The same, returning 0 or BF_EINVAL with the broken rule in err (errlen bytes; err may be NULL).
 */
BF_EXTERN int bf_channel_init(bf_channel *out, bf_channel_kind kind, const char *name, char *err,
                              size_t errlen);
/* "public", "private" or "presence"; a static string. */
BF_EXTERN const char *bf_channel_kind_name(bf_channel_kind kind);

/* ---- events ------------------------------------------------------------------------------ */

typedef struct bf_event_class bf_event_class;

/* Embed as the first member of your event struct. */
typedef struct bf_event {
    const bf_event_class *cls;
} bf_event;

struct bf_event_class {
    /* Required: the event's type, like the JS class name. assert_broadcast() matches on it, and it
     * is the wire event name unless broadcast_as is set. Borrowed (usually a literal). */
    const char *type_name;
    /* Required: writes up to cap (= BF_EVENT_MAX_CHANNELS) channels to out and returns how many,
     * or a negative BF_E* code to refuse the broadcast. */
    int (*broadcast_on)(const bf_event *ev, bf_channel *out, size_t cap);
    /* Exactly one of these two gives the payload ("data"), any JSON value:
     * broadcast_with returns a new json_t reference (the library decrefs it);
     * broadcast_with_json returns JSON text in malloc'd memory (the library frees it).
     * NULL means "could not build the payload" and fails the broadcast with BF_ENOMEM. */
    json_t *(*broadcast_with)(const bf_event *ev);
    char *(*broadcast_with_json)(const bf_event *ev);
    /* Optional: the wire event name; defaults to type_name. The returned string is borrowed and
     * must stay valid until bf_publisher_broadcast returns. */
    const char *(*broadcast_as)(const bf_event *ev);
};

/* The wire event name of ev: broadcast_as(ev) if set, else type_name. Borrowed. */
BF_EXTERN const char *bf_event_name(const bf_event *ev);

/* ---- results ----------------------------------------------------------------------------- */

/* The outcome for one channel. code is the server's error code ("bad_event", "too_large", ...)
 * or one of the library's: "bad_channel", "bad_event", "connect_failed", "io_error", "timeout",
 * "bad_response", "no_router" (Redis: nobody subscribed to the ingress subject). */
typedef struct bf_channel_result {
    char channel[BF_CHANNEL_NAME_MAX + 1];
    int rc;     /* 0 or a BF_E* code: BF_EAUTH (401/403), BF_EINVAL (400 or rejected locally),
                   BF_ETOOBIG (413), BF_ENOTFOUND (404), BF_EHTTP (other statuses), BF_EIO,
                   BF_ETIMEDOUT, BF_EREDIS, BF_ENOMEM */
    int status; /* HTTP status (204 on success); 0 over Redis and when there was no answer */
    char code[48];
    char message[BF_ERR_LEN];
} bf_channel_result;

/* Per-channel outcomes of one broadcast, in broadcast_on order. Embedded by the caller; always
 * call bf_broadcast_report_deinit after passing it to a broadcast, whatever that returned. */
typedef struct bf_broadcast_report {
    size_t n;                   /* channels attempted */
    size_t failed;              /* how many of them failed */
    bf_channel_result *results; /* n entries, owned by the report */
    char error[BF_ERR_LEN];     /* why the event as a whole failed (bad payload, ...), or "" */
} bf_broadcast_report;

BF_EXTERN void bf_broadcast_report_deinit(bf_broadcast_report *r);

/* ---- publishers -------------------------------------------------------------------------- */

typedef struct bf_publisher bf_publisher;

typedef struct bf_publisher_opts {
    const char *url;          /* http://... or redis://... (see above); borrowed (copied) */
    const char *api_key;      /* required with http://; borrowed (copied) */
    const char *redis_prefix; /* redis:// only; default "belfry:" (at most 64 bytes, no braces) */
    int timeout_ms;           /* connect and per-request limit; 0: 5000 */
} bf_publisher_opts;

/* Creates a publisher; nothing is connected until the first broadcast. Returns NULL with a message
 * in err (BF_ERR_LEN bytes, may be NULL) for a bad URL, a missing API key or no memory. Caller
 * frees with bf_publisher_free (unless ownership went to bf_publisher_set). */
BF_EXTERN bf_publisher *bf_publisher_new(const bf_publisher_opts *o, char *err);
BF_EXTERN void bf_publisher_free(bf_publisher *p);

/* Broadcasts ev to every channel from its broadcast_on, one request per channel. Returns 0 when
 * all succeeded, else the rc of the first failure (or of the event as a whole, e.g. BF_EINVAL for
 * a reserved event name or a payload that is not JSON). report may be NULL. While faking (see
 * below) nothing is sent: the broadcast is validated the same way and recorded per channel. */
BF_EXTERN int bf_publisher_broadcast(bf_publisher *p, const bf_event *ev,
                                     bf_broadcast_report *report);

/* Publishes one message without an event class: event name, data as JSON text (NULL: null) to one
 * channel's wire name. Returns 0 or the BF_E* code also stored in *result (which may be NULL).
 * While faking it is recorded with type_name = event. */
BF_EXTERN int bf_publisher_publish(bf_publisher *p, const char *channel, const char *event,
                                   const char *data_json, bf_channel_result *result);

/* ---- the process-wide default (BroadcastManager.get/set) ---------------------------------- */

/* Makes p the default and takes ownership of it: the previous default is freed (do not free p
 * yourself; bf_publisher_set(NULL) frees and clears it). */
BF_EXTERN void bf_publisher_set(bf_publisher *p);
/* The default publisher (borrowed), or NULL with "no default publisher: call bf_publisher_set() or
 * bf_publisher_register() first" in err (BF_ERR_LEN bytes, may be NULL). */
BF_EXTERN bf_publisher *bf_publisher_get(char *err);

/* ---- from the environment (BroadcastServiceProvider) ------------------------------------- */

/* Where settings come from. Every field may be NULL/zero for its default; like bindingName(), the
 * variable names can be overridden. lookup replaces getenv (tests, config systems); it returns a
 * borrowed string or NULL. */
typedef struct bf_publisher_env {
    const char *url_var;     /* default "BELFRY_URL": http://... or redis://... */
    const char *api_key_var; /* default "BELFRY_API_KEY": required for http:// */
    const char *prefix_var;  /* default "BELFRY_REDIS_PREFIX": optional, redis:// only */
    const char *(*lookup)(const char *name, void *arg);
    void *lookup_arg;
} bf_publisher_env;

/* A new publisher from the environment (caller frees), or NULL with the reason in err, e.g.
 * "BELFRY_URL is not set (expected http://HOST:PORT or redis://HOST:PORT)". env may be NULL. */
BF_EXTERN bf_publisher *bf_publisher_from_env(const bf_publisher_env *env, char *err);
/* bf_publisher_from_env, then bf_publisher_set. Returns 0, or BF_EINVAL / BF_ENOMEM with err. */
BF_EXTERN int bf_publisher_register(const bf_publisher_env *env, char *err);

/* ---- fakes (BroadcastFake) --------------------------------------------------------------- */

/* One recorded broadcast to one channel. All strings are owned by the recording. */
typedef struct bf_recorded {
    const char *type_name; /* the event class's type_name (or the event, for _publish) */
    const char *event;     /* the wire event name */
    const char *channel;   /* the wire channel name */
    const char *data;      /* the payload, compact JSON */
} bf_recorded;

/* Starts faking: from now on every broadcast, through any publisher, is validated and recorded
 * instead of sent. Forgets earlier recordings. If there is no default publisher, installs a fake
 * one, so code under test can call bf_publisher_get(). Returns 0 or BF_ENOMEM. */
BF_EXTERN int bf_publisher_fake(void);
/* Stops faking, forgets the recordings, and frees and clears the default publisher. */
BF_EXTERN void bf_publisher_restore(void);
BF_EXTERN bool bf_publisher_faking(void);

/* The recordings in order (borrowed: valid until the next broadcast, fake() or restore()); *n gets
 * their count. NULL with *n == 0 when there are none. */
BF_EXTERN const bf_recorded *bf_publisher_recorded(size_t *n);

/* 0 if an event with this type_name was recorded. Otherwise BF_ENOTFOUND, and msg (msglen bytes,
 * may be NULL) says e.g. "expected an event of type OrderShipped to be broadcast; broadcasts
 * recorded: UserJoined on presence-room.1"  (or "...recorded: none"). BF_EINVAL when not faking:
 * "bf_publisher_assert_broadcast needs fake mode: call bf_publisher_fake() first". */
BF_EXTERN int bf_publisher_assert_broadcast(const char *type_name, char *msg, size_t msglen);
/* The same for a wire channel name: "expected a broadcast on channel private-orders.1;
 * broadcasts recorded: ...". */
BF_EXTERN int bf_publisher_assert_broadcast_on(const char *channel, char *msg, size_t msglen);

#ifdef __cplusplus
}
#endif

#endif

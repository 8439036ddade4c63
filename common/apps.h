/* Apps: the Pusher notion of a tenant (id, key, secret) and how an app's channels are named
 * inside the cluster.
 *
 * Every daemon takes the same list: `--app ID:KEY:SECRET` (repeatable) or BELFRY_APPS
 * ("ID:KEY:SECRET,ID:KEY:SECRET"); flags replace the environment's list, they do not add to it.
 * The first app is the *default app*: the native protocol (/ws/{channel}, POST /broadcast,
 * Redis ingress) belongs to it. With no app configured there is an implicit default app "default"
 * with no key and no secret, which nothing can authenticate against.
 *
 * Scoped channel names. The default app's channels keep their bare names, so native clients,
 * Redis keys, fan-out subjects and the ingress are exactly what they were before apps existed.
 * Another app's channel "news" is "APPID/news" everywhere inside the cluster — Redis keys, fan-out
 * subjects, ring ownership, the gateway's hub — so two apps' channels of the same name share
 * nothing. '/' is valid in neither protocol's channel names, so a scoped name can never collide
 * with a bare one, and the app is recovered from the name alone (bf_apps_unscope). */
#ifndef BF_APPS_H
#define BF_APPS_H

#include <stdbool.h>
#include <stddef.h>

#define BF_APP_ID_MAX 32  /* [A-Za-z0-9_-]{1,32} */
#define BF_APP_KEY_MAX 64 /* [A-Za-z0-9_.-]{1,64} */
#define BF_APP_SECRET_MAX 128
#define BF_APP_SCOPE_SEP '/'

typedef struct bf_app {
    const char *id;     /* NUL-terminated; owned by the list */
    const char *key;    /* "" for the implicit default app */
    const char *secret; /* "" for the implicit default app */
    size_t secret_len;
    bool implicit; /* the implicit "default" app (no --app given): nothing authenticates */
} bf_app;

typedef struct bf_apps bf_apps;

/* An empty list (its default app is the implicit one). Caller frees with bf_apps_free;
 * bf_apps_free(NULL) is a no-op. Never returns NULL (aborts on out-of-memory like bf_malloc). */
bf_apps *bf_apps_new(void);
void bf_apps_free(bf_apps *a);

/* Adds the apps of spec: "ID:KEY:SECRET", or several separated by commas. Returns 0, or BF_EINVAL
 * with a message naming the entry and the rule it breaks in err (nothing is added then). Ids and
 * keys must be unique across the list; the secret is every byte after the second ':' (so it may
 * contain ':' but not ','). */
int bf_apps_add(bf_apps *a, const char *spec, char *err, size_t errlen);

/* Removes every app (the config parser uses it when flags replace the environment's list). */
void bf_apps_clear(bf_apps *a);

/* Number of configured apps (0 when only the implicit default app exists). */
size_t bf_apps_count(const bf_apps *a);
/* The i-th configured app (i < count); borrowed, valid until the list changes. */
const bf_app *bf_apps_at(const bf_apps *a, size_t i);
/* The default app: the first configured one, or the implicit "default". Never NULL; borrowed. */
const bf_app *bf_apps_default(const bf_apps *a);
/* Look-ups by id or key (len bytes, need not be NUL-terminated); NULL when unknown. The implicit
 * app is found by id ("default") but never by key. Borrowed. */
const bf_app *bf_apps_by_id(const bf_apps *a, const char *id, size_t len);
const bf_app *bf_apps_by_key(const bf_apps *a, const char *key, size_t len);

/* Writes app's scoped name for the channel name[0..len) to out (capacity cap, NUL-terminated):
 * the bare name for the default app, "APPID/name" otherwise. The name is not validated here.
 * Returns 0 or BF_ERANGE if it does not fit. */
int bf_apps_scope(const bf_apps *a, const bf_app *app, const char *name, size_t len, char *out,
                  size_t cap);

/* Splits a scoped name: returns its app (NULL if the "APPID/" part names no configured app) and
 * points *name at the bare channel name inside scoped (borrowed from scoped). */
const bf_app *bf_apps_unscope(const bf_apps *a, const char *scoped, const char **name);

#endif

/* Channel names and types.
 *
 * A channel name is 1..BF_CHANNEL_MAX bytes from [A-Za-z0-9_-=@,.;:]. Its type comes from its
 * prefix: "private-" is private, "presence-" is presence, anything else is public. The client's
 * optional ?type= parameter (kept for @roostjs/broadcast compatibility) may only select the
 * prefixed channel for an unprefixed name; it can never downgrade a prefixed one. */
#ifndef BF_CHANNEL_H
#define BF_CHANNEL_H

#include <stddef.h>

#define BF_CHANNEL_MAX 164

typedef enum { BF_CH_PUBLIC = 0, BF_CH_PRIVATE, BF_CH_PRESENCE } bf_channel_type;

/* Returns 0 if name[0..len) is a valid channel name, else BF_EINVAL with a message naming the
 * broken rule in err (which may be NULL). */
int bf_channel_validate(const char *name, size_t len, char *err, size_t errlen);

/* The type implied by a (valid) name's prefix; for a scoped name ("APPID/name", apps.h), its bare
 * name's. */
bf_channel_type bf_channel_type_of(const char *name);

/* "public", "private", "presence"; static strings. */
const char *bf_channel_type_name(bf_channel_type t);

/* Parses "public|private|presence"; returns 0 or BF_EINVAL. */
int bf_channel_type_parse(const char *s, bf_channel_type *out);

/* Resolves a requested name plus an optional ?type= value (type may be NULL) into the canonical
 * channel name, written NUL-terminated to out (capacity BF_CHANNEL_MAX + 1). Rules: the name must
 * be valid; an unprefixed name with type private/presence becomes "private-NAME"/"presence-NAME";
 * a type that contradicts the name's prefix is an error. Returns 0, or with err filled BF_EINVAL
 * (bad name, unknown type, contradiction) or BF_ETOOBIG (valid name and type, but the prefixed name
 * is longer than BF_CHANNEL_MAX). */
int bf_channel_resolve(const char *name, size_t len, const char *type, char *out, char *err,
                       size_t errlen);

#endif

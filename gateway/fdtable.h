/* The gateway's descriptors: the process's open-file limit and the size of lws' descriptor
 * table.
 *
 * lws 4.1 as Debian builds it checks on every close that the descriptor left no trace in its
 * table (one slot per descriptor number, as many as the soft open-file limit when the context
 * is created): a scan of the whole table, ~1 ns a slot here — a millisecond per close with the
 * 1,048,576 many container runtimes give. So lws' table is sized to what the gateway holds:
 * --max-connections, plus room for handshakes that will be refused with 503 and for our own
 * descriptors; the process's limit stays raised for everything else. */
#ifndef BF_FDTABLE_H
#define BF_FDTABLE_H

#include <libwebsockets.h>
#include <stdint.h>

/* Descriptors kept for Redis links, listeners and logs beyond the connections. */
#define BF_GW_FD_RESERVE 64
/* Above this many slots in lws' descriptor table the gateway warns at start-up unless
 * --max-connections was set. */
#define BF_GW_FD_SLOTS_WARN 262144

/* Raises the soft open-file limit to the hard one and returns it. */
uint64_t bf_fdtable_raise_limit(void);
/* The slots lws' table needs for max_connections, at most limit. */
uint64_t bf_fdtable_slots(uint64_t max_connections, uint64_t limit);
/* lws_create_context(info) with lws' descriptor table sized to slots (the soft limit is lowered
 * around the call and raised again; lws reads it once, there). Returns what lws returns. */
struct lws_context *bf_fdtable_create_lws(const struct lws_context_creation_info *info,
                                          uint64_t slots);

#endif

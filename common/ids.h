/* Random identifiers for node ids and instance suffixes. */
#ifndef BF_IDS_H
#define BF_IDS_H

#include <stddef.h>

/* Writes 2*nbytes lowercase hex digits of /dev/urandom (time and pid if unavailable) and a NUL
 * to out, which must hold 2*nbytes + 1 bytes; nbytes is at most 32. */
void bf_ids_random_hex(char *out, size_t nbytes);

#endif

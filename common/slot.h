/* Redis Cluster key slots, by which common/rcluster.c routes each command to its shard.
 *
 * A key's slot is CRC16(key) mod 16384, CRC16 being the XMODEM variant (polynomial 0x1021,
 * initial value 0) of the Redis Cluster specification, whose test vector is
 * CRC16("123456789") = 0x31C3. When the key holds a '{' followed later by a '}' with at least
 * one byte between them, only the bytes between the first '{' and the first '}' after it are
 * hashed (a hash tag): that is how every key of one channel ("seq:{news}", "hist:{news}", ...)
 * would share a slot, and so a shard, so that the channel's Lua scripts can run on one node. */
#ifndef BF_SLOT_H
#define BF_SLOT_H

#include <stddef.h>
#include <stdint.h>

#define BF_SLOT_COUNT 16384

uint16_t bf_slot_crc16(const void *buf, size_t len);

/* The slot of key[0..len), honouring hash tags. */
unsigned bf_slot_of_key(const char *key, size_t len);

#endif

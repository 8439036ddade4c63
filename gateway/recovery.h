/* Recovery on connect: ?recover=1 and ?since=N&epoch=E.
 *
 * The connection holds its queue from the upgrade on. Once its channel's subscription is
 * confirmed (so every later message will arrive live), the channel's position and — for since —
 * the missed frames are read in one atomic script call (history.lua). The connection then gets
 *   {"event":"belfry:subscribed","data":{"epoch":E,"seq":M[,"recovered":B,"missed":K]}}
 * followed, when recovered, by every frame with seq in (N, M] exactly as first sent, and then
 * the held live frames with seq > M: no gap and no duplicate while publishes flow. */
#ifndef BF_RECOVERY_H
#define BF_RECOVERY_H

#include "gateway.h"

/* Starts recovery for c (its subscription is confirmed). */
void bf_recovery_start(bf_gateway *gw, bf_conn *c);
/* c is closing: a recovery in flight must not touch it. */
void bf_recovery_cancel(bf_conn *c);

#endif

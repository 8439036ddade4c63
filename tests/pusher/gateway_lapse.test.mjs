// A gateway's Redis subscriber link lost while messages are published (Redis closes it: the
// output-buffer limit, CLIENT KILL): the Pusher protocol has no history to replay what the
// gateway never received, so its connections on a channel whose stream resumed past a gap are
// closed with 4200 and pusher-js reconnects at once, instead of skipping those events unseen.
// A channel that missed nothing keeps its connections. Real pusher-js, real daemons and Redis.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { APP, redisCommand, startCluster, stopCluster, waitFor } from './cluster.mjs';
import {
  collect, connected, publishNative, pusherClient, rawPusher, subscribed, within,
} from './gw_helpers.mjs';

let cluster;
const closers = [];
before(async () => {
  cluster = await startCluster({ gateways: 1, routers: 1, apps: [APP] });
});
after(async () => {
  for (const c of closers) c();
  await stopCluster(cluster);
});

const gwPort = () => cluster.gateways[0].port;
const rPort = () => cluster.routers[0].port;

async function metric(name) {
  const text = await (await fetch(`http://127.0.0.1:${gwPort()}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : NaN;
}

/** A raw Pusher socket subscribed to channel. */
async function rawSub(channel) {
  const ws = await rawPusher(gwPort());
  closers.push(() => ws.terminate());
  await ws.next((f) => f.event === 'pusher:connection_established');
  ws.sendJson({ event: 'pusher:subscribe', data: { channel } });
  await ws.next((f) => f.event === 'pusher_internal:subscription_succeeded' && f.channel === channel);
  return ws;
}

/** Drops the gateway's subscriber link the way Redis itself would, and waits until it is back. */
async function dropSubscriberLink(channel, whileDown) {
  const before = await metric('belfry_gateway_redis_reconnects_total');
  const gw = cluster.gateways[0].child;
  gw.kill('SIGSTOP'); // so that whileDown runs before the gateway can subscribe again
  try {
    await redisCommand(cluster.redisPort, 'CLIENT', 'KILL', 'TYPE', 'pubsub');
    await whileDown();
  } finally {
    gw.kill('SIGCONT');
  }
  await waitFor(async () => (await metric('belfry_gateway_redis_reconnects_total')) > before,
    { what: 'the gateway reconnected' });
  await waitFor(async () => {
    const r = await redisCommand(cluster.redisPort, 'PUBSUB', 'NUMSUB', `belfry:fan:{${channel}}`);
    return Number(r[1]) === 1;
  }, { what: `the gateway subscribed ${channel} again` });
}

test('events published while the link was down: 4200, and pusher-js reconnects at once', async () => {
  const p = pusherClient(gwPort());
  closers.push(() => p.disconnect());
  const firstId = await connected(p);
  const got = collect(await subscribed(p, 'lapse'), 'E');
  const raw = await rawSub('lapse');
  await publishNative(rPort(), 'lapse', 'E', { n: 1 });
  await waitFor(() => got.length === 1, { what: 'n=1' });
  const closesBefore = await metric('belfry_gateway_resubscribe_closes_total');

  await dropSubscriberLink('lapse', async () => {
    // the stopped gateway has no subscriber link left, so it is not behind: all accepted
    for (const n of [2, 3, 4]) await publishNative(rPort(), 'lapse', 'E', { n });
  });
  await publishNative(rPort(), 'lapse', 'E', { n: 5 });
  const closed = await within(raw.closed, 'the old connection closed', 5000);
  assert.equal(closed.code, 4200);
  assert.match(closed.reason, /resubscribed/);
  await waitFor(() => p.connection.state === 'connected' && p.connection.socket_id !== firstId,
    { what: 'pusher-js reconnected', timeout: 5000 });
  assert.deepEqual(got.map((e) => e.data.n), [1], 'nothing after the gap reached the old connection');
  assert.equal(await metric('belfry_gateway_resubscribe_closes_total'), closesBefore + 2);
  // pusher-js subscribed again on its new connection: events flow
  await waitFor(async () => {
    await publishNative(rPort(), 'lapse', 'E', { n: 6 });
    await new Promise((r) => setTimeout(r, 100));
    return got.length > 1;
  }, { what: 'an event after the reconnection' });
  assert.equal(got[1].data.n, 6);
});

test('nothing published while the link was down: nobody is closed', async () => {
  const p = pusherClient(gwPort());
  closers.push(() => p.disconnect());
  const id = await connected(p);
  const got = collect(await subscribed(p, 'calm'), 'E');
  await publishNative(rPort(), 'calm', 'E', { n: 1 });
  await waitFor(() => got.length === 1, { what: 'n=1' });
  const closesBefore = await metric('belfry_gateway_resubscribe_closes_total');
  await dropSubscriberLink('calm', async () => {});
  await publishNative(rPort(), 'calm', 'E', { n: 2 });
  await waitFor(() => got.length === 2, { what: 'n=2' });
  assert.equal(p.connection.socket_id, id, 'the same connection');
  assert.equal(await metric('belfry_gateway_resubscribe_closes_total'), closesBefore);
});

// The gateway's side of the fan-out envelope's Pusher elements: data_raw (the publisher's data
// string, passed to Pusher clients exactly) and exclude_socket (Laravel's toOthers()), plus
// kicks reaching Pusher presence members.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import PusherServer from 'pusher';
import { APP, startCluster, stopCluster, waitFor } from './cluster.mjs';
import { publishFanout, rawPusher, WebSocket } from './gw_helpers.mjs';

const sdk = new PusherServer({ appId: APP.id, key: APP.key, secret: APP.secret, host: '127.0.0.1', useTLS: false });

let cluster;
const sockets = [];
before(async () => {
  cluster = await startCluster({ gateways: 2, routers: 1, apps: [APP] });
});
after(async () => {
  for (const ws of sockets) ws.terminate();
  await stopCluster(cluster);
});

async function subscriber(gw, channel, user = null) {
  const ws = await rawPusher(cluster.gateways[gw].port);
  sockets.push(ws);
  ws.sid = (await ws.next((f) => f.event === 'pusher:connection_established')).parsed.socket_id;
  const data = { channel };
  if (user) Object.assign(data, sdk.authorizeChannel(ws.sid, channel, user));
  ws.sendJson({ event: 'pusher:subscribe', data });
  await ws.next((f) => f.event === 'pusher_internal:subscription_succeeded');
  return ws;
}

test('data_raw reaches Pusher clients byte for byte; exclude_socket skips one socket only', async () => {
  const a = await subscriber(0, 'raw-news');
  const b = await subscriber(0, 'raw-news');
  const c = await subscriber(1, 'raw-news');
  const raw = '{ "spaced" :  [1, 2.50] }';
  await publishFanout(cluster.redisPort, 'raw-news', 'E', JSON.parse(raw), 1,
    { dataRaw: raw, excludeSocket: a.sid });
  for (const ws of [b, c]) assert.equal((await ws.next((f) => f.event === 'E')).data, raw);
  await publishFanout(cluster.redisPort, 'raw-news', 'After', 1, 2);
  await a.next((f) => f.event === 'After');
  assert.equal(a.frames.filter((f) => f.event === 'E').length, 0, 'the excluded socket got it');
});

test('a kick closes a Pusher presence member with 4009', async () => {
  const ws = await subscriber(1, 'presence-kick', { user_id: 'mallory' });
  const other = await subscriber(1, 'presence-kick', { user_id: 'alice' });
  await publishFanout(cluster.redisPort, 'presence-kick', '', null, 0, { kind: 4, frame: 'banned', excludeUser: 'mallory' });
  const { code, reason } = await ws.closed;
  assert.equal(code, 4009);
  assert.equal(reason, 'banned');
  await other.next((f) => f.event === 'pusher_internal:member_removed', 'alice sees mallory go');
});

test('a message is rendered once per protocol, whatever the number of connections', async () => {
  const port = cluster.gateways[0].port;
  const rendered = async () => {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const get = (p) => Number(new RegExp(`frames_rendered_total\\{protocol="${p}"\\} (\\d+)`).exec(text)[1]);
    return { native: get('native'), pusher: get('pusher') };
  };
  const pushers = [];
  for (let i = 0; i < 6; i++) pushers.push(await subscriber(0, 'shared'));
  const natives = [];
  for (let i = 0; i < 3; i++) {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws/shared`);
    sockets.push(ws);
    ws.got = [];
    ws.on('message', (d) => ws.got.push(JSON.parse(d.toString())));
    await new Promise((r) => ws.once('open', r));
    natives.push(ws);
  }
  // native subscriptions are live once a probe reaches them
  for (let seq = 1; !natives.every((w) => w.got.length); seq++) {
    await publishFanout(cluster.redisPort, 'shared', 'probe', seq, seq);
    await new Promise((r) => setTimeout(r, 50));
    if (seq > 100) throw new Error('native clients never subscribed');
  }
  const before = await rendered();
  await publishFanout(cluster.redisPort, 'shared', 'Once', { n: 1 }, 200);
  for (const ws of pushers) await ws.next((f) => f.event === 'Once');
  await waitFor(() => natives.every((w) => w.got.some((f) => f.event === 'Once')), { what: 'native copies' });
  const after = await rendered();
  assert.equal(after.pusher - before.pusher, 1, 'six Pusher connections, one rendering');
  assert.equal(after.native - before.native, 1, 'three native connections, one rendering');
});

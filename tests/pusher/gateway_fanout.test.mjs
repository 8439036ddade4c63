// The gateway's side of the fan-out envelope's Pusher elements: data_raw (the publisher's data
// string, passed to Pusher clients exactly) and exclude_socket (Laravel's toOthers()), plus
// kicks reaching Pusher presence members.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import PusherServer from 'pusher';
import { APP, startCluster } from './cluster.mjs';
import { publishFanout, rawPusher } from './gw_helpers.mjs';

const sdk = new PusherServer({ appId: APP.id, key: APP.key, secret: APP.secret, host: '127.0.0.1', useTLS: false });

let cluster;
const sockets = [];
before(async () => {
  cluster = await startCluster({ gateways: 2, routers: 1, apps: [APP] });
});
after(async () => {
  for (const ws of sockets) ws.terminate();
  const st = await cluster?.stop();
  for (const [name, s] of st ?? []) assert.equal(s.code, 0, `${name} exited ${JSON.stringify(s)}\n${cluster.logs()}`);
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

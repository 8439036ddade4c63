// The Pusher HTTP API's read endpoints with the real `pusher` server SDK: figures over every
// gateway (native clients on two gateways), users counted per user, other apps' channels never
// listed, and the Pusher rules on user_count and presence-only endpoints.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import Pusher from 'pusher';
import WebSocket from 'ws';
import { APP, APP2, startCluster, stopCluster, waitFor } from './cluster.mjs';
import { nativeSub, signedFetch } from './http_helpers.mjs';

let cluster;
let sdk;
before(async () => {
  cluster = await startCluster({
    gateways: 2, routers: 1, apps: [APP, APP2], gatewayArgs: ['--insecure-any-token'],
  });
  sdk = new Pusher({
    appId: APP.id, key: APP.key, secret: APP.secret, host: '127.0.0.1',
    port: String(cluster.routers[0].port), useTLS: false,
  });
});
after(async () => {
  await stopCluster(cluster);
});

const gw = (i) => cluster.gateways[i].port;

/* A native presence member: resolves when presence:here arrived (the join is recorded). */
async function member(port, channel, user) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws/${channel}?token=dev&userId=${user}`);
  let here = false;
  ws.on('message', (d) => {
    if (JSON.parse(d.toString()).event === 'presence:here') here = true;
  });
  await waitFor(() => here, { what: `${user} in ${channel}`, timeout: 10000 });
  return ws;
}

async function get(path, params) {
  const res = await sdk.get({ path, params });
  assert.equal(res.status, 200);
  return res.json();
}

test('channels, channel info and users over both gateways, per user', async () => {
  const subs = [await nativeSub(gw(0), 'q-news'), await nativeSub(gw(1), 'q-news'),
    await nativeSub(gw(1), 'q-other')];
  // alice twice (two gateways), bob once: 2 users, 3 connections
  const ws = [await member(gw(0), 'presence-q-room', 'alice'),
    await member(gw(1), 'presence-q-room', 'alice'), await member(gw(1), 'presence-q-room', 'bob')];
  // gateways report connection counts asynchronously (batched per loop turn)
  const count = async (c) => (await get(`/channels/${c}`, { info: 'subscription_count' }))
    .subscription_count;
  await waitFor(async () => (await count('q-news')) === 2 && (await count('q-other')) === 1
    && (await count('presence-q-room')) === 3, { what: 'connection counts reported' });

  assert.deepEqual(await get('/channels/q-news', { info: 'subscription_count' }),
    { occupied: true, subscription_count: 2 });
  assert.deepEqual(await get('/channels/q-nobody', { info: 'subscription_count' }),
    { occupied: false, subscription_count: 0 });
  assert.deepEqual(await get('/channels/presence-q-room', { info: 'user_count,subscription_count' }),
    { occupied: true, user_count: 2, subscription_count: 3 });
  // a trigger can ask for the same figures
  const t = await sdk.trigger(['presence-q-room', 'q-news'], 'x', '{}',
    { info: 'user_count,subscription_count' });
  assert.deepEqual(await t.json(), { channels: {
    'presence-q-room': { subscription_count: 3, user_count: 2 },
    'q-news': { subscription_count: 2 },
  } });
  const users = await get('/channels/presence-q-room/users');
  assert.deepEqual(users.users.map((u) => u.id).sort(), ['alice', 'bob']);

  const all = await get('/channels');
  for (const c of ['q-news', 'q-other', 'presence-q-room']) assert.ok(all.channels[c], c);
  assert.deepEqual(await get('/channels', { filter_by_prefix: 'q-' }),
    { channels: { 'q-news': {}, 'q-other': {} } });
  assert.deepEqual(await get('/channels', { filter_by_prefix: 'presence-', info: 'user_count' }),
    { channels: { 'presence-q-room': { user_count: 2 } } });

  // another app sees none of them
  const sdk2 = new Pusher({
    appId: APP2.id, key: APP2.key, secret: APP2.secret, host: '127.0.0.1',
    port: String(cluster.routers[0].port), useTLS: false,
  });
  assert.deepEqual(await (await sdk2.get({ path: '/channels' })).json(), { channels: {} });

  for (const s of subs) s.close();
  for (const w of ws) w.close();
  await waitFor(async () => Object.keys((await get('/channels', { filter_by_prefix: 'q-' })).channels)
    .length === 0, { what: 'channels vacated' });
  assert.deepEqual(await get('/channels/q-news', { info: 'subscription_count' }),
    { occupied: false, subscription_count: 0 });
});

test('Pusher rules: user_count and users only for presence, unknown info, methods', async () => {
  const port = cluster.routers[0].port;
  const base = `/apps/${APP.id}`;
  let r = await signedFetch(port, APP, 'GET', `${base}/channels`, { params: { info: 'user_count' } });
  assert.equal(r.status, 400);
  assert.equal(r.body.error.code, 'not_presence');
  r = await signedFetch(port, APP, 'GET', `${base}/channels/news`, { params: { info: 'user_count' } });
  assert.equal(r.status, 400);
  r = await signedFetch(port, APP, 'GET', `${base}/channels/news/users`);
  assert.equal(r.status, 400);
  r = await signedFetch(port, APP, 'GET', `${base}/channels/news`, { params: { info: 'bogus' } });
  assert.equal(r.status, 400);
  assert.equal(r.body.error.code, 'bad_info');
  r = await signedFetch(port, APP, 'GET', `${base}/channels/a!b`);
  assert.equal(r.status, 400);
  r = await signedFetch(port, APP, 'POST', `${base}/channels`, { body: {} });
  assert.equal(r.status, 405);
  r = await signedFetch(port, APP, 'GET', `${base}/nothing`);
  assert.equal(r.status, 404);
  // a signature for one path does not open another
  r = await signedFetch(port, APP, 'GET', `${base}/channels`);
  assert.equal(r.status, 200);
});

// A native connection has a user only on private and presence channels (its token's); those are
// the ones a user's terminate_connections can find.
test('terminate_connections closes every connection of the user, on every gateway and channel', async () => {
  const open = (port, channel, user) => new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws/${channel}?token=dev&userId=${user}`);
    ws.closedWith = null;
    ws.on('close', (code) => { ws.closedWith = code; });
    ws.on('open', () => resolve(ws));
    ws.on('error', reject);
  });
  const alice = [await member(gw(0), 'presence-t-room', 'alice'),
    await open(gw(1), 'private-t-inbox', 'alice')];
  const bob = await member(gw(1), 'presence-t-room', 'bob');
  for (const w of [alice[0], bob]) {
    w.closedWith = null;
    w.on('close', (code) => { w.closedWith = code; });
  }
  const count = async (c) => (await get(`/channels/${c}`, { info: 'subscription_count' }))
    .subscription_count;
  await waitFor(async () => (await count('presence-t-room')) === 2
    && (await count('private-t-inbox')) === 1,
  { what: 'connections counted' });
  const res = await sdk.terminateUserConnections('alice');
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), {});
  await waitFor(() => alice.every((w) => w.closedWith !== null), { what: "alice's connections closed" });
  assert.deepEqual(alice.map((w) => w.closedWith), [4010, 4010]);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(bob.closedWith, null, 'other users keep their connections');
  assert.equal(bob.readyState, WebSocket.OPEN);
  // another app's key cannot terminate this app's users
  const r = await signedFetch(cluster.routers[0].port, APP2, 'POST',
    `/apps/${APP2.id}/users/bob/terminate_connections`, { body: {} });
  assert.equal(r.status, 200);
  await new Promise((res2) => setTimeout(res2, 300));
  assert.equal(bob.closedWith, null, "app 1002's terminate does not reach app 1001's channels");
  bob.close();
});

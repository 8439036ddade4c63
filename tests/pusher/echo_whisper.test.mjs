// Client events: Laravel Echo's whisper()/listenForWhisper() across two gateways, user_id on
// presence channels, never echoed, the rate limit, refusals on public / not-joined channels, and
// native whispers <-> Pusher client events on the default app.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import PusherServer from 'pusher';
import WebSocket from 'ws';
import { APP, startCluster, stopCluster, waitFor } from './cluster.mjs';
import { connected, echoClient, pusherClient, rawPusher, subscribed } from './gw_helpers.mjs';

const sdk = new PusherServer({ appId: APP.id, key: APP.key, secret: APP.secret, host: '127.0.0.1', useTLS: false });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let cluster;
const closers = [];
before(async () => {
  // --insecure-any-token only for the native side of the interop test (its JWT-less private channel)
  cluster = await startCluster({ gateways: 2, routers: 1, apps: [APP], gatewayArgs: ['--insecure-any-token'] });
});
after(async () => {
  for (const c of closers) c();
  await stopCluster(cluster);
});

async function echo(gw, user) {
  const e = await echoClient(cluster.gateways[gw].port, sdk, user);
  closers.push(() => e.disconnect());
  return e;
}

test('Echo whisper / listenForWhisper on a presence channel across gateways, never echoed', async () => {
  const alice = await echo(0, { user_id: 'alice', user_info: { name: 'Alice' } });
  const bob = await echo(1, { user_id: 'bob', user_info: { name: 'Bob' } });
  const got = { alice: [], bob: [] };
  let here = 0;
  const a = alice.join('chat').here(() => here++).listenForWhisper('typing', (e) => got.alice.push(e));
  bob.join('chat').here(() => here++).listenForWhisper('typing', (e) => got.bob.push(e));
  await waitFor(() => here === 2, { what: 'both joined' });
  a.whisper('typing', { name: 'Alice', on: true });
  await waitFor(() => got.bob.length === 1, { what: 'bob hears alice' });
  assert.deepEqual(got.bob[0], { name: 'Alice', on: true });
  await sleep(200);
  assert.equal(got.alice.length, 0, 'the sender never gets its own event');
});

test('pusher-js: user_id on presence client events, a string data passes unchanged', async () => {
  const auth = (user) => ({
    channelAuthorization: {
      customHandler: ({ socketId, channelName }, cb) => cb(null, sdk.authorizeChannel(socketId, channelName, user)),
    },
  });
  const p1 = pusherClient(cluster.gateways[0].port, auth({ user_id: 'u1' }));
  const p2 = pusherClient(cluster.gateways[1].port, auth({ user_id: 'u2' }));
  closers.push(() => p1.disconnect(), () => p2.disconnect());
  await Promise.all([connected(p1), connected(p2)]);
  const [c1, c2] = await Promise.all([subscribed(p1, 'presence-meta'), subscribed(p2, 'presence-meta')]);
  const got = [];
  c2.bind('client-note', (data, meta) => got.push({ data, meta }));
  c1.trigger('client-note', { x: 1 });
  c1.trigger('client-note', 'plain text');
  await waitFor(() => got.length === 2, { what: 'two client events' });
  assert.deepEqual(got[0].data, { x: 1 });
  assert.equal(got[0].meta.user_id, 'u1');
  assert.equal(got[1].data, 'plain text');
});

async function rawPrivate(gw, channel) {
  const ws = await rawPusher(cluster.gateways[gw].port);
  closers.push(() => ws.terminate());
  const sid = (await ws.next((f) => f.event === 'pusher:connection_established')).parsed.socket_id;
  ws.sendJson({ event: 'pusher:subscribe', data: { channel, auth: sdk.authorizeChannel(sid, channel).auth } });
  await ws.next((f) => f.event === 'pusher_internal:subscription_succeeded' && f.channel === channel);
  return ws;
}

test('more than --client-event-rate per second: pusher:error 4301 and dropped', async () => {
  const sender = await rawPrivate(0, 'private-rate');
  const receiver = await rawPrivate(1, 'private-rate');
  for (let i = 0; i < 15; i++) sender.sendJson({ event: 'client-burst', channel: 'private-rate', data: { i } });
  const err = await sender.next((f) => f.event === 'pusher:error', 'a rate error');
  assert.equal(err.data.code, 4301);
  await waitFor(() => receiver.frames.filter((f) => f.event === 'client-burst').length >= 10, { what: 'ten relayed' });
  await sleep(300);
  const relayed = receiver.frames.filter((f) => f.event === 'client-burst');
  const refused = sender.frames.filter((f) => f.event === 'pusher:error' && f.data.code === 4301);
  assert.equal(relayed.length, 10);
  assert.equal(refused.length, 5);
  assert.deepEqual(relayed.map((f) => JSON.parse(f.data).i), [...Array(10).keys()]);
  assert.equal(sender.frames.filter((f) => f.event === 'client-burst').length, 0, 'never echoed');
});

test('client events on a public channel or a channel not joined: pusher:error, no relay', async () => {
  const a = await rawPusher(cluster.gateways[0].port);
  const b = await rawPusher(cluster.gateways[1].port);
  closers.push(() => a.terminate(), () => b.terminate());
  for (const ws of [a, b]) {
    await ws.next((f) => f.event === 'pusher:connection_established');
    ws.sendJson({ event: 'pusher:subscribe', data: { channel: 'open-room' } });
    await ws.next((f) => f.event === 'pusher_internal:subscription_succeeded');
  }
  a.sendJson({ event: 'client-x', channel: 'open-room', data: {} });
  let e = await a.next((f) => f.event === 'pusher:error');
  assert.match(e.data.message, /private and presence/);
  a.sendJson({ event: 'client-x', channel: 'private-never-joined', data: {} });
  e = await a.next((f) => f.event === 'pusher:error');
  assert.match(e.data.message, /subscription/);
  await sleep(200);
  assert.equal(b.frames.filter((f) => f.event === 'client-x').length, 0);
});

test('native whispers and Pusher client events meet on the default app', async () => {
  const pusher = await rawPrivate(0, 'private-mixed');
  const native = new WebSocket(`ws://127.0.0.1:${cluster.gateways[1].port}/ws/private-mixed?token=dev&userId=nat`);
  closers.push(() => native.terminate());
  const nframes = [];
  native.on('message', (d) => nframes.push(JSON.parse(d.toString())));
  await new Promise((resolve, reject) => { native.once('open', resolve); native.once('error', reject); });
  // the native subscription is live once a publish reaches it
  await waitFor(async () => {
    await fetch(`http://127.0.0.1:${cluster.routers[0].port}/broadcast/private-mixed`, {
      method: 'POST', headers: { authorization: 'Bearer pusher-test-api-key-0123456789abcdef' },
      body: JSON.stringify({ event: 'probe', data: 1 }),
    });
    await sleep(50);
    return nframes.some((f) => f.event === 'probe');
  }, { what: 'the native client subscribed' });
  native.send(JSON.stringify({ event: 'whisper', channel: 'private-mixed', data: { event: 'typing', data: { who: 'native' } } }));
  const got = await pusher.next((f) => f.event === 'client-typing');
  assert.deepEqual(got.parsed, { who: 'native' });
  pusher.sendJson({ event: 'client-typing', channel: 'private-mixed', data: { who: 'pusher' } });
  await waitFor(() => nframes.some((f) => f.event === 'whisper'), { what: 'the native client hears it' });
  const w = nframes.find((f) => f.event === 'whisper');
  assert.deepEqual(w.data, { event: 'typing', data: { who: 'pusher' } });
});

test('native and Pusher members share one presence channel on the default app', async () => {
  const native = new WebSocket(`ws://127.0.0.1:${cluster.gateways[0].port}/ws/presence-lobby?token=dev&userId=nat`);
  closers.push(() => native.terminate());
  const nframes = [];
  native.on('message', (d) => nframes.push(JSON.parse(d.toString())));
  await waitFor(() => nframes.some((f) => f.event === 'presence:here'), { what: 'native presence:here' });
  const alice = await echo(1, { user_id: 'alice', user_info: { name: 'Alice' } });
  let here = null;
  const leaving = [];
  alice.join('lobby').here((u) => { here = u; }).leaving((u) => leaving.push(u));
  await waitFor(() => here !== null, { what: 'alice here' });
  assert.equal(here.length, 2, JSON.stringify(here));
  await waitFor(() => nframes.some((f) => f.event === 'presence:join' && f.data.member.id === 'alice'),
    { what: 'the native client sees alice join' });
  assert.deepEqual(nframes.find((f) => f.event === 'presence:join').data.member.info, { name: 'Alice' });
  native.close();
  await waitFor(() => leaving.length === 1, { what: 'alice sees the native member leave' });
});

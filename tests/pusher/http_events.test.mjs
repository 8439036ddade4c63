// The Pusher HTTP API's publishing endpoints with the real `pusher` server SDK (5.x): events to
// 1 and 100 channels and batches reach native clients on both gateways with parsed data, are
// sequenced like every Belfry publish, carry the data string and socket_id in the fan-out
// envelope, and every malformed or unauthenticated request is refused with the right status.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import Pusher from 'pusher';
import {
  API_KEY, APP, APP2, redisCommand, startCluster, stopCluster, waitFor,
} from './cluster.mjs';
import { fanoutSpy, nativeSub, signedFetch } from './http_helpers.mjs';

let cluster;
let rport;
let sdk;
before(async () => {
  cluster = await startCluster({ gateways: 2, routers: 2, apps: [APP, APP2] });
  rport = cluster.routers[1].port;
  sdk = new Pusher({
    appId: APP.id, key: APP.key, secret: APP.secret, host: '127.0.0.1', port: String(rport),
    useTLS: false,
  });
});
after(async () => {
  await stopCluster(cluster);
});

const gw = (i) => cluster.gateways[i].port;

test('trigger to one channel: native clients on both gateways get parsed data with a seq', async () => {
  const a = await nativeSub(gw(0), 'news');
  const b = await nativeSub(gw(1), 'news');
  const res = await sdk.trigger('news', 'greet', { hello: 'world' });
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), {});
  await sdk.trigger('news', 'plain', 'not json at all');
  for (const s of [a, b]) {
    await waitFor(() => s.frames.length >= 2, { what: 'two frames' });
    assert.deepEqual(s.frames[0], { event: 'greet', data: { hello: 'world' }, seq: 1 });
    assert.deepEqual(s.frames[1], { event: 'plain', data: 'not json at all', seq: 2 });
    s.close();
  }
  // the publishes are in the channel's history, like every Belfry publish
  const h = await (await fetch(`http://127.0.0.1:${rport}/history/news`, {
    headers: { authorization: `Bearer ${API_KEY}` },
  })).json();
  assert.deepEqual(h.messages.map((m) => [m.seq, m.event]), [[1, 'greet'], [2, 'plain']]);
});

test('trigger to 100 channels: one request, every channel gets it once, info on request', async () => {
  const names = Array.from({ length: 100 }, (_, i) => `room-${i}`);
  const subs = [];
  for (let i = 0; i < names.length; i++) subs.push(await nativeSub(gw(i % 2), names[i]));
  const res = await sdk.trigger(names, 'fan', '{"n":100}', { info: 'subscription_count' });
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(Object.keys(body.channels).length, 100);
  for (const n of names) assert.deepEqual(body.channels[n], { subscription_count: 1 });
  await waitFor(() => subs.every((s) => s.frames.length === 1), { what: '100 deliveries' });
  for (const s of subs) {
    assert.deepEqual(s.frames, [{ event: 'fan', data: { n: 100 }, seq: 1 }]);
    s.close();
  }
});

test('batch trigger: each event to its own channel, info per event', async () => {
  const a = await nativeSub(gw(0), 'batch-a');
  const b = await nativeSub(gw(1), 'batch-b');
  const res = await sdk.triggerBatch([
    { channel: 'batch-a', name: 'one', data: { i: 1 }, info: 'subscription_count' },
    { channel: 'batch-b', name: 'two', data: 'x' },
    { channel: 'batch-a', name: 'three', data: [3] },
  ]);
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { batch: [{ subscription_count: 1 }, {}, {}] });
  await waitFor(() => a.frames.length === 2 && b.frames.length === 1, { what: 'batch deliveries' });
  assert.deepEqual(a.frames, [
    { event: 'one', data: { i: 1 }, seq: 1 }, { event: 'three', data: [3], seq: 2 }]);
  assert.deepEqual(b.frames, [{ event: 'two', data: 'x', seq: 1 }]);
  a.close();
  b.close();
});

test('the fan-out envelope carries the data string as sent and the socket_id to exclude', async () => {
  const spy = await fanoutSpy(cluster.redisPort, 'belfry:fan:{env}', 'belfry:fan:{1002/env}');
  await sdk.trigger('env', 'e', '{"a": 1}', { socket_id: '123.456' });
  await sdk.trigger('env', 'e2', 'raw');
  const sdk2 = new Pusher({
    appId: APP2.id, key: APP2.key, secret: APP2.secret, host: '127.0.0.1', port: String(rport),
    useTLS: false,
  });
  await sdk2.trigger('env', 'other-app', { b: 2 });
  // the documented Redis ingress form of another app: publish:APPID/channel
  await redisCommand(cluster.redisPort, 'PUBLISH', 'belfry:publish:1002/env',
    '{"event":"via-redis","data":{"c":3}}');
  await waitFor(() => spy.got.length === 4, { what: 'four envelopes' });
  spy.close();
  const [e1, e2, e3, e4] = spy.got;
  assert.equal(e1.subject, 'belfry:fan:{env}');
  assert.deepEqual(e1.env, [1, 1, 'env', 1, '{"event":"e","data":{"a":1},"seq":1}', '', '',
    '{"a": 1}', '123.456']);
  assert.deepEqual(e2.env.slice(3), [2, '{"event":"e2","data":"raw","seq":2}', '', '', 'raw', '']);
  assert.equal(e3.subject, 'belfry:fan:{1002/env}', "another app's channel is scoped");
  assert.deepEqual(e3.env.slice(2), ['1002/env', 1, '{"event":"other-app","data":{"b":2},"seq":1}',
    '', '', '{"b":2}', '']);
  assert.equal(e4.subject, 'belfry:fan:{1002/env}');
  assert.equal(e4.env[4], '{"event":"via-redis","data":{"c":3},"seq":2}');
});

test('authentication: wrong secret, stale timestamp, tampered body, unknown key and app', async () => {
  const bad = new Pusher({
    appId: APP.id, key: APP.key, secret: 'not-the-secret', host: '127.0.0.1', port: String(rport),
    useTLS: false,
  });
  await assert.rejects(bad.trigger('news', 'x', {}), (e) => {
    assert.equal(e.status, 401);
    assert.equal(JSON.parse(e.body).error.code, 'bad_signature');
    return true;
  });
  const ev = { name: 'x', channels: ['news'], data: '{}' };
  const path = `/apps/${APP.id}/events`;
  let r = await signedFetch(rport, APP, 'POST', path, {
    body: ev, timestamp: Math.floor(Date.now() / 1000) - 601,
  });
  assert.equal(r.status, 401);
  assert.equal(r.body.error.code, 'stale_timestamp');
  r = await signedFetch(rport, APP, 'POST', path, {
    body: ev, signBody: JSON.stringify({ ...ev, data: '{"other":1}' }),
  });
  assert.equal(r.status, 401);
  assert.equal(r.body.error.code, 'body_md5_mismatch');
  r = await signedFetch(rport, APP, 'POST', path, { body: ev, key: 'nobody' });
  assert.equal(r.status, 401);
  assert.equal(r.body.error.code, 'unknown_key');
  r = await signedFetch(rport, APP2, 'POST', path, { body: ev });
  assert.equal(r.status, 401, "another app's key cannot publish to this app");
  assert.equal(r.body.error.code, 'key_of_another_app');
  r = await signedFetch(rport, APP, 'POST', '/apps/9999/events', { body: ev });
  assert.equal(r.status, 404);
  assert.equal(r.body.error.code, 'unknown_app');
  // a prefix in front of /apps is signed as sent
  const s = await nativeSub(gw(0), 'prefixed');
  r = await signedFetch(rport, APP, 'POST', `/pusher/apps/${APP.id}/events`, {
    body: { name: 'p', channel: 'prefixed', data: '1' },
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  await waitFor(() => s.frames.length === 1, { what: 'prefixed publish' });
  assert.deepEqual(s.frames[0], { event: 'p', data: 1, seq: 1 });
  s.close();
});

test('limits and bad requests: 101 channels, 11 batch events, 11 KiB data, bad JSON and names', async () => {
  const path = `/apps/${APP.id}/events`;
  const chans = Array.from({ length: 101 }, (_, i) => `c${i}`);
  let r = await signedFetch(rport, APP, 'POST', path, { body: { name: 'x', channels: chans, data: '1' } });
  assert.equal(r.status, 400);
  assert.equal(r.body.error.code, 'too_many_channels');
  const batch = Array.from({ length: 11 }, (_, i) => ({ name: 'x', channel: `c${i}`, data: '1' }));
  await assert.rejects(sdk.triggerBatch(batch), (e) => {
    assert.equal(e.status, 400);
    assert.equal(JSON.parse(e.body).error.code, 'too_many_events');
    return true;
  });
  await assert.rejects(sdk.trigger('news', 'big', 'x'.repeat(11 * 1024)), (e) => {
    assert.equal(e.status, 413);
    assert.equal(JSON.parse(e.body).error.code, 'too_large');
    return true;
  });
  // exactly the limit is accepted
  assert.equal((await sdk.trigger('news', 'big', 'x'.repeat(10 * 1024))).status, 200);
  r = await signedFetch(rport, APP, 'POST', path, { body: '{"name":' });
  assert.equal(r.status, 400);
  assert.equal(r.body.error.code, 'bad_json');
  r = await signedFetch(rport, APP, 'POST', path, { body: { name: 'x', channels: ['a b'], data: '1' } });
  assert.equal(r.status, 400);
  assert.equal(r.body.error.code, 'bad_channel');
  r = await signedFetch(rport, APP, 'POST', path, { body: { name: 'pusher:x', channel: 'a', data: '1' } });
  assert.equal(r.status, 400);
  r = await signedFetch(rport, APP, 'POST', path, {
    body: { name: 'x', channel: 'a', data: '1', socket_id: 'abc' },
  });
  assert.equal(r.status, 400);
  assert.match(r.body.error.message, /socket_id/);
  r = await signedFetch(rport, APP, 'GET', path);
  assert.equal(r.status, 405);
  const m = await (await fetch(`http://127.0.0.1:${rport}/metrics`)).text();
  assert.match(m, /belfry_router_pusher_too_large_total 1\n/);
  assert.match(m, /belfry_router_pusher_auth_failures_total \d+\n/);
});

test('while a gateway is behind on delivery, trigger is refused with 503 overloaded and a retry delay', async () => {
  // a gateway of our own in the membership, reporting a backlog (docs/operations.md, Back-pressure)
  const redis = cluster.redisPort;
  await redisCommand(redis, 'ZADD', 'belfry:{#}:gateways', String(Date.now() + 3600000), 'gw-behind');
  const sub = await nativeSub(gw(0), 'busy');
  // the report reaches the router on its subscriber link, the trigger on HTTP: a trigger may
  // overtake the first report and be accepted, and then it is delivered
  let accepted = 0;
  const refused = async () => {
    await redisCommand(redis, 'PUBLISH', 'belfry:backlog', 'gw-behind 60 1');
    try {
      await sdk.trigger('busy', 'held', { n: 1 });
      accepted++;
      return null;
    } catch (e) {
      return e;
    }
  };
  let err = null;
  await waitFor(async () => (err = await refused()) !== null, { what: 'a refusal', timeout: 5000 });
  assert.equal(err.status, 503);
  assert.equal(JSON.parse(err.body).error.code, 'overloaded');
  assert.match(JSON.parse(err.body).error.message, /gw-behind is 60 ms behind/);
  // batches too
  await assert.rejects(sdk.triggerBatch([{ channel: 'busy', name: 'held', data: '1' }]),
    (e) => e.status === 503 && JSON.parse(e.body).error.code === 'overloaded');
  // the SDK hides response headers on errors: a raw signed request shows them
  const r = await signedFetch(rport, APP, 'POST', `/apps/${APP.id}/events`,
    { body: { name: 'held', channel: 'busy', data: '1' } });
  assert.equal(r.status, 503);
  assert.equal(r.headers.get('retry-after'), '1');
  assert.equal(r.headers.get('x-belfry-retry-after-ms'), '30');
  // caught up: accepted again, and nothing refused was ever delivered
  await redisCommand(redis, 'PUBLISH', 'belfry:backlog', 'gw-behind 2 0');
  await waitFor(async () => {
    try {
      return (await sdk.trigger('busy', 'after', { n: 2 })).status === 200;
    } catch {
      return false;
    }
  }, { what: 'accepted again', timeout: 5000 });
  await waitFor(() => sub.frames.length >= accepted + 1, { what: 'the accepted events' });
  assert.deepEqual(sub.frames.map((f) => f.event), [...Array(accepted).fill('held'), 'after']);
  await redisCommand(redis, 'ZREM', 'belfry:{#}:gateways', 'gw-behind');
  sub.close();
});

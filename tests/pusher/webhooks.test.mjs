// Pusher webhooks with three routers and two gateways: every transition gives exactly one event
// cluster-wide, signed so that the `pusher` SDK's webhook(...).isValid() accepts it; a failing
// receiver is retried until it answers; a router killed while delivering loses nothing; a hanging
// receiver does not slow fan-out.
import assert from 'node:assert/strict';
import http from 'node:http';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { after, before, test } from 'node:test';
import Pusher from 'pusher';
import WebSocket from 'ws';
import { API_KEY, APP, APP2, BIN_DIR, startCluster, stopCluster, waitFor } from './cluster.mjs';
import { nativeSub } from './http_helpers.mjs';

const sdk = new Pusher({ appId: APP.id, key: APP.key, secret: APP.secret, host: '127.0.0.1' });

/* The receiver: verifies every request with the SDK and records the events of the 2xx answers.
 * `mode(req)` decides the answer: a status, or 'hang' (never answered until released). */
const recv = {
  requests: [], // every request: { ids, valid, events, status }
  delivered: [], // events of requests answered 2xx, with their stream id
  held: [],
  mode: () => 200,
};
let server;
let cluster;
let killed = new Set();

before(async () => {
  server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const rawBody = Buffer.concat(chunks).toString('utf8');
      const hook = sdk.webhook({ headers: req.headers, rawBody });
      const valid = hook.isValid();
      const ids = String(req.headers['x-belfry-event-ids'] ?? '').split(',');
      const events = valid ? hook.getEvents() : [];
      const r = { ids, valid, events, rawBody };
      recv.requests.push(r);
      const m = recv.mode(r);
      if (m === 'hang') {
        recv.held.push(res);
        return;
      }
      r.status = m;
      if (m >= 200 && m < 300) events.forEach((e, i) => recv.delivered.push({ ...e, id: ids[i] }));
      res.writeHead(m, { 'content-type': 'text/plain' });
      res.end('ok');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${server.address().port}/pusher/webhooks`;
  cluster = await startCluster({
    gateways: 2,
    routers: 3,
    apps: [APP, APP2],
    gatewayArgs: ['--insecure-any-token'],
    routerArgs: ['--webhook', `${APP.id}=${url}`, '--webhook-vacate-delay', '400',
      '--webhook-retry-initial-ms', '100', '--webhook-claim-ms', '1500',
      '--webhook-timeout-ms', '60000'],
  });
});

after(async () => {
  for (const res of recv.held) res.destroy();
  try {
    await stopCluster(cluster, { killed });
  } finally {
    server?.close();
  }
});

const gw = (i) => cluster.gateways[i].port;
const of = (channel, name) => recv.delivered.filter((e) => e.channel === channel && e.name === name);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function member(port, channel, user) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws/${channel}?token=dev&userId=${user}`);
  let here = false;
  ws.on('message', (d) => {
    if (JSON.parse(d.toString()).event === 'presence:here') here = true;
  });
  await waitFor(() => here, { what: `${user} in ${channel}`, timeout: 10000 });
  return ws;
}

test('occupied and vacated: exactly one each, with subscribers on two gateways', async () => {
  const a = await nativeSub(gw(0), 'wh-a');
  const b = await nativeSub(gw(1), 'wh-a');
  const c = await nativeSub(gw(1), 'wh-a');
  await waitFor(() => of('wh-a', 'channel_occupied').length === 1, { what: 'channel_occupied' });
  a.close();
  b.close();
  await sleep(1000); // past the vacate delay: one subscriber is left, so nothing is sent
  assert.equal(of('wh-a', 'channel_vacated').length, 0);
  c.close();
  await waitFor(() => of('wh-a', 'channel_vacated').length === 1, { what: 'channel_vacated' });
  await sleep(800);
  assert.equal(of('wh-a', 'channel_occupied').length, 1);
  assert.equal(of('wh-a', 'channel_vacated').length, 1);
  assert.ok(recv.requests.every((r) => r.valid), 'every request passes webhook().isValid()');
});

test('a reconnect within the vacate delay produces neither vacated nor occupied', async () => {
  const a = await nativeSub(gw(0), 'wh-b');
  await waitFor(() => of('wh-b', 'channel_occupied').length === 1, { what: 'channel_occupied' });
  a.close();
  await sleep(100);
  const b = await nativeSub(gw(1), 'wh-b');
  await sleep(1000);
  assert.equal(of('wh-b', 'channel_vacated').length, 0);
  assert.equal(of('wh-b', 'channel_occupied').length, 1);
  b.close();
  await waitFor(() => of('wh-b', 'channel_vacated').length === 1, { what: 'channel_vacated' });
});

test('member_added and member_removed: once per user, not per connection', async () => {
  const ch = 'presence-wh-room';
  const a1 = await member(gw(0), ch, 'alice');
  const a2 = await member(gw(1), ch, 'alice');
  const b1 = await member(gw(1), ch, 'bob');
  await waitFor(() => of(ch, 'member_added').length === 2, { what: 'two member_added' });
  assert.deepEqual(of(ch, 'member_added').map((e) => e.user_id).sort(), ['alice', 'bob']);
  a1.close();
  await sleep(500);
  assert.equal(of(ch, 'member_removed').length, 0, 'alice still has a connection');
  a2.close();
  await waitFor(() => of(ch, 'member_removed').length === 1, { what: 'member_removed' });
  assert.equal(of(ch, 'member_removed')[0].user_id, 'alice');
  b1.close();
  await waitFor(() => of(ch, 'member_removed').length === 2, { what: 'bob removed' });
  await waitFor(() => of(ch, 'channel_vacated').length === 1, { what: 'room vacated' });
  assert.equal(of(ch, 'member_added').length, 2);
  assert.equal(of(ch, 'channel_occupied').length, 1);
});

test('a receiver answering 500 then 200: retried, delivered once, same event ids', async () => {
  let failures = 0;
  recv.mode = (r) => (r.events.some((e) => e.channel === 'wh-retry') && failures++ < 1 ? 500 : 200);
  const s = await nativeSub(gw(0), 'wh-retry');
  await waitFor(() => of('wh-retry', 'channel_occupied').length === 1, { what: 'retried delivery' });
  const tries = recv.requests.filter((r) => r.events.some((e) => e.channel === 'wh-retry'));
  assert.equal(tries.length, 2);
  assert.equal(tries[0].status, 500);
  assert.deepEqual(tries[0].ids, tries[1].ids, 'a retry carries the same event ids');
  recv.mode = () => 200;
  s.close();
  await waitFor(() => of('wh-retry', 'channel_vacated').length === 1, { what: 'vacated' });
  let retried = 0;
  for (const r of cluster.routers) {
    const m = await (await fetch(`http://127.0.0.1:${r.port}/metrics`)).text();
    retried += Number(/belfry_router_webhooks_retried_total (\d+)/.exec(m)[1]);
  }
  assert.ok(retried >= 1);
});

test('kill -9 the router delivering an event: another router delivers it; fan-out unaffected', async () => {
  recv.mode = (r) => (r.events.some((e) => e.channel === 'wh-kill') ? 'hang' : 200);
  const s = await nativeSub(gw(1), 'wh-kill');
  await waitFor(() => recv.held.length === 1, { what: 'the held webhook request' });
  // the receiver hangs: publishing and fan-out go on
  const t0 = Date.now();
  const res = await fetch(`http://127.0.0.1:${cluster.routers[0].port}/broadcast/wh-kill`, {
    method: 'POST', headers: { authorization: `Bearer ${API_KEY}` },
    body: JSON.stringify({ event: 'still', data: 1 }),
  });
  assert.equal(res.status, 204);
  await waitFor(() => s.frames.length === 1, { what: 'fan-out while a webhook hangs' });
  assert.ok(Date.now() - t0 < 1000, `fan-out took ${Date.now() - t0} ms`);
  // which router holds it?
  let holder = -1;
  for (let i = 0; i < cluster.routers.length; i++) {
    const m = await (await fetch(`http://127.0.0.1:${cluster.routers[i].port}/metrics`)).text();
    if (/belfry_router_webhooks_pending_events [1-9]/.test(m)) holder = i;
  }
  assert.ok(holder >= 0, 'one router holds the event');
  const name = cluster.routers[holder].name;
  killed.add(name);
  await cluster.routers[holder].stop('SIGKILL');
  recv.mode = () => 200;
  for (const r of recv.held.splice(0)) r.destroy();
  await waitFor(() => of('wh-kill', 'channel_occupied').length === 1,
    { what: 'delivery by another router', timeout: 15000 });
  s.close();
  await waitFor(() => of('wh-kill', 'channel_vacated').length === 1, { what: 'vacated' });
  assert.equal(of('wh-kill', 'channel_occupied').length, 1);
});

test('bad webhook configuration is refused at start and named', () => {
  for (const [args, says] of [
    [['--webhook', '9=http://x/'], /no app '9'/],
    [['--webhook', `${APP.id}=https://x/`], /must be http:\/\/HOST/],
    [['--webhook', `${APP.id}`], /expected APPID=URL/],
    [['--webhook', `${APP.id}=http://x/`, '--webhook-events', 'nope'], /unknown event 'nope'/],
  ]) {
    const r = spawnSync(path.join(BIN_DIR, 'belfry-router'), [
      '--api-key', 'k', '--listen', '127.0.0.1:1', '--app', `${APP.id}:${APP.key}:${APP.secret}`,
      ...args], { encoding: 'utf8', timeout: 5000 });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, says);
  }
});

// Presence over the Pusher protocol with raw frames: what pusher-js never sends (forged user ids,
// oversized channel_data) and the member limit (--max-presence-members, default 100).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import PusherServer from 'pusher';
import { APP, startCluster, stopCluster, waitFor } from './cluster.mjs';
import { rawPusher } from './gw_helpers.mjs';

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

async function socket(gw) {
  const ws = await rawPusher(cluster.gateways[gw].port);
  sockets.push(ws);
  ws.sid = (await ws.next((f) => f.event === 'pusher:connection_established')).parsed.socket_id;
  return ws;
}

/** Sends a presence subscribe signed for `signed` but carrying channel_data `sent`. */
function join(ws, channel, signed, sent = signed) {
  const { auth, channel_data: cd } = sdk.authorizeChannel(ws.sid, channel, signed);
  const channelData = sent === signed ? cd : JSON.stringify(sent);
  ws.sendJson({ event: 'pusher:subscribe', data: { channel, auth, channel_data: channelData } });
}

const reply = (ws, channel) => ws.next((f) => f.channel === channel
  && ['pusher_internal:subscription_succeeded', 'pusher:subscription_error'].includes(f.event), `reply on ${channel}`);

test('a forged user_id (channel_data other than the signed one) is refused with 403', async () => {
  const ws = await socket(0);
  join(ws, 'presence-forge', { user_id: 'mallory' }, { user_id: 'admin' });
  const r = await reply(ws, 'presence-forge');
  assert.equal(r.event, 'pusher:subscription_error');
  assert.equal(r.data.status, 403);
  join(ws, 'presence-forge', { user_id: 'mallory' });
  const ok = await reply(ws, 'presence-forge');
  assert.equal(ok.event, 'pusher_internal:subscription_succeeded');
  assert.deepEqual(ok.parsed.presence.ids, ['mallory']);
});

test('presence without channel_data, or with an oversized user_id / user_info, is refused', async () => {
  const ws = await socket(1);
  ws.sendJson({ event: 'pusher:subscribe', data: { channel: 'presence-x', auth: 'k:s' } });
  let r = await reply(ws, 'presence-x');
  assert.equal(r.data.status, 400);
  join(ws, 'presence-x', { user_id: 'u'.repeat(129) });
  r = await reply(ws, 'presence-x');
  assert.equal(r.event, 'pusher:subscription_error');
  assert.match(r.data.error, /128 bytes/);
  join(ws, 'presence-x', { user_id: 'u', user_info: { bio: 'x'.repeat(1100) } });
  r = await reply(ws, 'presence-x');
  assert.match(r.data.error, /1 KiB/);
  join(ws, 'presence-x', { user_id: 'u'.repeat(128), user_info: { bio: 'x'.repeat(900) } });
  r = await reply(ws, 'presence-x');
  assert.equal(r.event, 'pusher_internal:subscription_succeeded', 'exactly at the limits is fine');
});

test('the 101st member of a presence channel is refused with 403; a member\'s second socket is not', async () => {
  const ch = 'presence-full';
  const first = [];
  for (let i = 0; i < 100; i++) {
    const ws = await socket(i % 2);
    join(ws, ch, { user_id: `user-${i}` });
    first.push(ws);
  }
  for (const ws of first) assert.equal((await reply(ws, ch)).event, 'pusher_internal:subscription_succeeded');
  const extra = await socket(0);
  join(extra, ch, { user_id: 'user-100' });
  const r = await reply(extra, ch);
  assert.equal(r.event, 'pusher:subscription_error');
  assert.equal(r.data.status, 403);
  assert.match(r.data.error, /max-presence-members/);
  const tab = await socket(1);
  join(tab, ch, { user_id: 'user-7' });
  const ok = await reply(tab, ch);
  assert.equal(ok.event, 'pusher_internal:subscription_succeeded');
  assert.equal(ok.parsed.presence.count, 100);
  // one leaves: a new user fits again
  first[0].close();
  await first[0].closed;
  const later = await socket(1);
  let got;
  for (let attempt = 0; attempt < 50; attempt++) {
    join(later, ch, { user_id: 'user-101' });
    got = await reply(later, ch);
    if (got.event === 'pusher_internal:subscription_succeeded') break;
    await new Promise((res) => setTimeout(res, 50));
  }
  assert.equal(got.event, 'pusher_internal:subscription_succeeded');
});

test('one connection in two presence channels survives the gateway\'s reconciliation', async () => {
  const g = await cluster.startGateway(2, ['--presence-reconcile-interval', '1']);
  const metrics = async () => (await fetch(`http://127.0.0.1:${g.port}/metrics`)).text();
  const passes = async () => Number(/presence_reconcile_passes_total (\d+)/.exec(await metrics())[1]);
  const ws = await rawPusher(g.port);
  sockets.push(ws);
  ws.sid = (await ws.next((f) => f.event === 'pusher:connection_established')).parsed.socket_id;
  const watcher = await socket(0);
  for (const ch of ['presence-two-a', 'presence-two-b']) {
    join(watcher, ch, { user_id: `watcher-${ch}` });
    await reply(watcher, ch);
    join(ws, ch, { user_id: 'multi' });
    assert.equal((await reply(ws, ch)).event, 'pusher_internal:subscription_succeeded');
  }
  const start = await passes();
  await waitFor(async () => (await passes()) >= start + 2, { what: 'two reconciliation passes', timeout: 8000 });
  const text = await metrics();
  for (const m of text.matchAll(/presence_repairs_total\{kind="([a-z_]+)"\} (\d+)/g))
    assert.equal(m[2], '0', `repairs of kind ${m[1]}:\n${text}`);
  assert.equal(watcher.frames.filter((f) => f.event === 'pusher_internal:member_removed').length, 0);
});

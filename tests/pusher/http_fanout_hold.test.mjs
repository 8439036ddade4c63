// The fan-out window's hold (router --fanout-hold-ms) on the Pusher HTTP API, with the real
// `pusher` server SDK: while a gateway has not written a channel's last message, a trigger to it
// is not refused but held — its answer waits — and it is published and answered 200 once the
// gateway has written that message; a hold that outlasts --fanout-hold-ms ends in 503 overloaded
// and publishes nothing. A stopped gateway (SIGSTOP) is the unfinished fan-out.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { APP, startCluster, stopCluster, waitFor } from './cluster.mjs';
import { fanoutReporting, nativeSub, serverSdk, writtenSeqs } from './http_helpers.mjs';

let cluster;
let sdk;
before(async () => {
  cluster = await startCluster({
    gateways: 1,
    routers: 1,
    apps: [APP],
    routerArgs: ['--fanout-window', '1', '--overload-silence-ms', '0', '--fanout-hold-ms', '1500',
      '--fanout-stale-ms', '5000'],
    gatewayArgs: ['--fanout-report-min-subs', '1', '--backlog-limit-ms', '0'],
  });
  sdk = serverSdk(cluster.routers[0].port, APP);
  for (const g of cluster.gateways) await fanoutReporting(g.port);
});
after(async () => {
  await stopCluster(cluster);
});

test('a trigger and a batch are held while the channel is being written, then published', async () => {
  const sub = await nativeSub(cluster.gateways[0].port, 'big');
  assert.equal((await sdk.trigger('big', 'e1', {})).status, 200);
  await waitFor(async () => (await writtenSeqs(cluster.redisPort, 'big')).includes(1), { what: 'e1 written' });
  const gw = cluster.gateways[0].child;
  gw.kill('SIGSTOP');
  let held;
  let batch;
  try {
    assert.equal((await sdk.trigger('big', 'e2', {})).status, 200);
    let answered = false;
    held = sdk.trigger('big', 'e3', {}).then((r) => { answered = true; return r; });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(answered, false, 'answered while e2 was unwritten');
  } finally {
    gw.kill('SIGCONT');
  }
  assert.equal((await held).status, 200);
  batch = await sdk.triggerBatch([{ channel: 'big', name: 'b4', data: '{}' }]);
  assert.equal(batch.status, 200);
  await waitFor(() => sub.frames.length >= 4, { what: 'e2, e3 and b4' });
  assert.deepEqual(sub.frames.map((f) => f.event), ['e1', 'e2', 'e3', 'b4']);
  sub.close();
});

test('a hold longer than --fanout-hold-ms ends in 503 overloaded, and nothing is published', async () => {
  const sub = await nativeSub(cluster.gateways[0].port, 'slow');
  assert.equal((await sdk.trigger('slow', 'e1', {})).status, 200);
  await waitFor(async () => (await writtenSeqs(cluster.redisPort, 'slow')).includes(1), { what: 'e1 written' });
  const gw = cluster.gateways[0].child;
  gw.kill('SIGSTOP');
  let t0;
  try {
    assert.equal((await sdk.trigger('slow', 'e2', {})).status, 200);
    t0 = Date.now();
    await assert.rejects(sdk.trigger('slow', 'e3', {}), (e) => {
      assert.equal(e.status, 503);
      const err = JSON.parse(e.body).error;
      assert.equal(err.code, 'overloaded');
      assert.match(err.message, /held as long as allowed/);
      return true;
    });
    assert.ok(Date.now() - t0 >= 1400, `refused after ${Date.now() - t0} ms`);
  } finally {
    gw.kill('SIGCONT');
  }
  await waitFor(() => sub.frames.length >= 2, { what: 'e2' });
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(sub.frames.map((f) => f.event), ['e1', 'e2']);
  const m = await (await fetch(`http://127.0.0.1:${cluster.routers[0].port}/metrics`)).text();
  assert.match(m, /belfry_router_publishes_held_expired_total 1\n/);
  sub.close();
});

// The fan-out window (router --fanout-window, gateway --fanout-report-min-subs) on the Pusher
// HTTP API, with the real `pusher` server SDK: while a gateway has not written a channel's last
// message, a trigger to it — alone, in a multi-channel event or in a batch — is refused whole with
// 503 overloaded naming the channel, nothing of a refused request is delivered on any channel,
// and triggers are taken again once the gateway has written it. A stopped gateway (SIGSTOP) is
// the unfinished fan-out; its backlog reports are off, so every refusal is the window's.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { APP, startCluster, stopCluster, waitFor } from './cluster.mjs';
import { fanoutReporting, nativeSub, serverSdk, signedFetch, writtenSeqs } from './http_helpers.mjs';

let cluster;
let sdk;
let rport;
before(async () => {
  cluster = await startCluster({
    gateways: 2,
    routers: 1,
    apps: [APP],
    // --fanout-hold-ms 0: refused at once (http_fanout_hold.test.mjs holds them)
    routerArgs: ['--fanout-window', '1', '--overload-silence-ms', '0', '--fanout-retry-ms', '9',
      '--fanout-hold-ms', '0'],
    gatewayArgs: ['--fanout-report-min-subs', '1', '--backlog-limit-ms', '0'],
  });
  rport = cluster.routers[0].port;
  sdk = serverSdk(cluster.routers[0].port, APP);
  for (const g of cluster.gateways) await fanoutReporting(g.port);
});
after(async () => {
  await stopCluster(cluster);
});

const refusal = (re) => (e) => {
  assert.equal(e.status, 503);
  const err = JSON.parse(e.body).error;
  assert.equal(err.code, 'overloaded');
  assert.match(err.message, re);
  return true;
};

test('a trigger, a multi-channel event and a batch wait for the channel\'s last fan-out', async () => {
  const gw = (i) => cluster.gateways[i].port;
  const big = await nativeSub(gw(0), 'big');
  const other = await nativeSub(gw(1), 'other');
  assert.equal((await sdk.trigger('big', 'e1', { n: 1 })).status, 200);
  await waitFor(() => big.frames.length === 1, { what: 'e1' });
  await waitFor(async () => (await writtenSeqs(cluster.redisPort, 'big')).includes(1), { what: 'e1 reported written' });

  const gw0 = cluster.gateways[0].child;
  gw0.kill('SIGSTOP');
  try {
    assert.equal((await sdk.trigger('big', 'e2', { n: 2 })).status, 200);
    await assert.rejects(sdk.trigger('big', 'e3', { n: 3 }),
      refusal(/channel big: gateway \S+ has not finished writing 1 message/));
    await assert.rejects(sdk.trigger(['other', 'big'], 'multi', { n: 4 }), refusal(/channel big/));
    await assert.rejects(sdk.triggerBatch([
      { channel: 'other', name: 'b1', data: '1' },
      { channel: 'big', name: 'b1', data: '1' },
    ]), refusal(/channel big/));
    // the SDK hides response headers on errors: a raw signed request shows the retry delay
    const r = await signedFetch(rport, APP, 'POST', `/apps/${APP.id}/events`,
      { body: { name: 'e5', channel: 'big', data: '1' } });
    assert.equal(r.status, 503);
    // what e1's fan-out took less what has passed, 1-1000 ms
    const retry = Number(r.headers.get('x-belfry-retry-after-ms'));
    assert.ok(retry >= 1 && retry <= 1000, `retry delay ${retry}`);
    // a channel nobody is writing is not held by another's window
    assert.equal((await sdk.trigger('other', 'o1', { n: 6 })).status, 200);
  } finally {
    gw0.kill('SIGCONT');
  }
  await waitFor(async () => {
    try {
      return (await sdk.trigger('big', 'e7', { n: 7 })).status === 200;
    } catch {
      return false;
    }
  }, { what: 'accepted again', timeout: 5000 });
  await waitFor(() => big.frames.length >= 3, { what: 'e2 and e7' });
  await waitFor(() => other.frames.length >= 1, { what: 'o1' });
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(big.frames.map((f) => f.event), ['e1', 'e2', 'e7']);
  assert.deepEqual(other.frames.map((f) => f.event), ['o1']);
  const m = await (await fetch(`http://127.0.0.1:${rport}/metrics`)).text();
  const busy = Number(/belfry_router_publishes_fanout_busy_total (\d+)/.exec(m)[1]);
  assert.ok(busy >= 4, `fanout_busy_total ${busy}`);
  big.close();
  other.close();
});

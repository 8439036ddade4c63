// The client against a real cluster (redis + router + gateway from build/bin): handlers,
// whispers, reconnection with backoff, gap detection, presence. Recovery is in
// recovery.test.mjs. Run: bash client/js/test/run.sh
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import WebSocket from 'ws';

import { createBroadcastClient, createPresence } from '../belfry.js';
import { gatewayFeatures, startCluster, waitFor } from './cluster.mjs';

const features = gatewayFeatures();
const PRESENCE_SKIP = !features.anyToken && 'waiting for the gateway flag --insecure-any-token';

/**
 * A client wired to record what it sees. Every client made here is closed in `after`, so a
 * failed assertion cannot leave a socket reconnecting in the background.
 */
const clients = [];
function recorder(url, options = {}) {
  const rec = { events: [], connects: 0, disconnects: [], gaps: [], failures: [], retries: [], errors: [] };
  rec.client = createBroadcastClient(url, {
    WebSocket,
    onConnect: () => rec.connects++,
    onDisconnect: (code, reason) => rec.disconnects.push({ code, reason }),
    onGap: (g) => rec.gaps.push(g),
    onRecoveryFailed: (f) => rec.failures.push(f),
    onReconnecting: (delay, attempt) => rec.retries.push({ delay, attempt, at: Date.now() }),
    onError: (err) => rec.errors.push(err),
    ...options,
  });
  rec.client.subscribe('*', (event, data, meta) => rec.events.push({ event, data, meta }));
  rec.received = (event) => rec.events.filter((e) => e.event === event);
  clients.push(rec.client);
  return rec;
}

let cluster;
before(async () => {
  cluster = await startCluster({
    gatewayArgs: features.anyToken ? ['--insecure-any-token'] : [],
  });
});
after(async () => {
  for (const c of clients) c.close();
  await cluster?.stop();
});
// A test that failed with the gateway down must not take the next tests with it.
afterEach(() => cluster.ensureGateway());

/** Opens a recorder on a public channel and waits until a publish would reach it. */
async function connected(channel, options) {
  const rec = recorder(cluster.wsUrl(channel), options);
  await waitFor(() => rec.connects === 1, { what: `${channel} to connect` });
  await cluster.waitSubscribed(channel);
  return rec;
}

describe('construction', () => {
  const HAS_GLOBAL = globalThis.WebSocket !== undefined && 'this Node has a global WebSocket';
  test('Node without a WebSocket implementation gets a clear TypeError', { skip: HAS_GLOBAL }, () => {
    assert.throws(() => createBroadcastClient('ws://127.0.0.1:9/ws/x'), /options\.WebSocket/);
    assert.throws(() => createBroadcastClient(42, { WebSocket }), TypeError);
  });
});

describe('handlers', () => {
  test('channel and * handlers both receive every event, once each', async () => {
    const rec = await connected('h-both');
    const onChannel = [];
    const shared = [];
    const fn = (event) => shared.push(event);
    rec.client.subscribe('h-both', (event, data, meta) => onChannel.push({ event, data, meta }));
    rec.client.subscribe('h-both', fn);
    rec.client.subscribe('*', fn); // registered under two matching keys: still called once
    rec.client.subscribe('some-other-channel', () => assert.fail('wrong channel key called'));

    await cluster.publish('h-both', 'Tick', { i: 1 });
    await waitFor(() => onChannel.length === 1 && rec.events.length === 1, { what: 'Tick' });
    assert.deepEqual(onChannel[0], { event: 'Tick', data: { i: 1 }, meta: { channel: 'h-both', seq: 1 } });
    assert.deepEqual(rec.events[0], onChannel[0]);
    assert.deepEqual(shared, ['Tick']);
    assert.equal(rec.client.channel, 'h-both');
    assert.equal(rec.client.lastSeq(), 1);
  });

  test('subscribe returns an unsubscribe function; unsubscribe(channel) drops the key', async () => {
    const rec = await connected('h-unsub');
    const seen = { a: [], b: [], c: [] };
    const offA = rec.client.subscribe('h-unsub', (e, d) => seen.a.push(d.i));
    rec.client.subscribe('h-unsub', (e, d) => seen.b.push(d.i));
    rec.client.subscribe('*', (e, d) => seen.c.push(d.i));

    await cluster.publish('h-unsub', 'N', { i: 1 });
    await waitFor(() => rec.events.length === 1, { what: 'first message' });
    offA();
    offA(); // idempotent
    await cluster.publish('h-unsub', 'N', { i: 2 });
    await waitFor(() => rec.events.length === 2, { what: 'second message' });
    rec.client.unsubscribe('h-unsub');
    await cluster.publish('h-unsub', 'N', { i: 3 });
    await waitFor(() => rec.events.length === 3, { what: 'third message' });

    // rec's own '*' recorder proves each message arrived before the others were checked
    assert.deepEqual(seen, { a: [1], b: [1, 2], c: [1, 2, 3] });
    assert.equal(rec.client.state, 'open', 'unsubscribing handlers leaves the socket open');
  });

  test('the channel name is resolved like the gateway does (?type=)', () => {
    const c = createBroadcastClient('ws://127.0.0.1:9/ws/demo?type=presence', { WebSocket });
    clients.push(c);
    assert.equal(c.channel, 'presence-demo');
    const d = createBroadcastClient(() => 'ws://127.0.0.1:9/ws/presence-x?type=presence', { WebSocket });
    clients.push(d);
    return waitFor(() => d.channel === 'presence-x', { what: 'the factory URL to be resolved' });
  });

  test('a throwing handler does not stop the others; the error goes to onError', async () => {
    const rec = await connected('h-throw');
    const boom = new Error('handler bug');
    rec.client.subscribe('h-throw', () => {
      throw boom;
    });
    await cluster.publish('h-throw', 'E', {});
    await waitFor(() => rec.events.length === 1 && rec.errors.length === 1, { what: 'E + error' });
    assert.equal(rec.errors[0], boom);
  });
});

describe('whisper', () => {
  test('sends only while the socket is open', async () => {
    const rec = recorder(cluster.wsUrl('w-open'));
    assert.equal(rec.client.whisper('*', 'typing', {}), false, 'not open yet: not sent');
    await waitFor(() => rec.connects === 1, { what: 'connect' });
    // A public channel refuses whispers with an error frame: proof the frame reached the server.
    assert.equal(rec.client.whisper('w-open', 'typing', { x: 1 }), true);
    await waitFor(() => rec.received('error').length === 1, { what: 'the error frame' });
    const err = rec.received('error')[0];
    assert.equal(err.data.code, 'whisper_forbidden');
    assert.equal(err.meta.seq, undefined, 'error frames are ephemeral');

    rec.client.close();
    await waitFor(() => rec.client.state === 'closed', { what: 'close' });
    assert.equal(rec.client.whisper('*', 'typing', {}), false, 'closed: not sent');
    assert.deepEqual(rec.gaps, [], 'ephemeral frames are never gaps');
  });
});

describe('reconnection', () => {
  test('after the gateway is killed and restarted: factory called again, backoff as configured', async () => {
    const channel = 'r-kill';
    let calls = 0;
    const factory = () => {
      calls++;
      return cluster.wsUrl(channel);
    };
    const initialDelay = 100;
    const maxDelay = 400;
    const rec = recorder(factory, { initialDelay, maxDelay });
    await waitFor(() => rec.connects === 1, { what: 'first connect' });
    await cluster.waitSubscribed(channel);
    assert.equal(calls, 1);

    await cluster.stopGateway('SIGKILL');
    // Refused attempts: 100, 200, 400, 400 … (each jittered into [d/2, d]).
    await waitFor(() => rec.retries.length >= 5, { timeout: 5000, what: '5 reconnect attempts' });
    assert.equal(rec.disconnects[0].code, 1006, 'a killed gateway is an abnormal close');
    rec.retries.slice(0, 5).forEach(({ delay, attempt }, k) => {
      const base = Math.min(maxDelay, initialDelay * 2 ** k);
      assert.equal(attempt, k + 1);
      assert.ok(delay >= base / 2 - 1 && delay <= base + 1, `attempt ${k + 1}: ${delay} ms, want ${base / 2}..${base}`);
    });
    // The timers really wait that long: the factory runs once per attempt, no sooner.
    for (let k = 1; k < 5; k++) {
      const gap = rec.retries[k].at - rec.retries[k - 1].at;
      assert.ok(gap >= rec.retries[k - 1].delay - 5, `attempt ${k + 1} came ${gap} ms after ${k}`);
    }
    assert.ok(calls >= 5, `factory called ${calls} times`);
    assert.equal(rec.client.whisper('*', 'x', {}), false, 'not open: whisper not sent');

    await cluster.startGateway();
    await waitFor(() => rec.connects === 2, { timeout: 3000, what: 'reconnect' });
    assert.equal(rec.client.state, 'open');
    await cluster.waitSubscribed(channel);
    await cluster.publish(channel, 'After', { ok: true });
    await waitFor(() => rec.received('After').length === 1, { what: 'a message after reconnecting' });

    // The backoff starts over after a successful connect.
    const before = rec.retries.length;
    await cluster.stopGateway('SIGKILL');
    await waitFor(() => rec.retries.length > before, { what: 'a new reconnect attempt' });
    assert.equal(rec.retries[before].attempt, 1);
    assert.ok(rec.retries[before].delay <= initialDelay);
    await cluster.startGateway();
    await waitFor(() => rec.connects === 3, { timeout: 3000, what: 'second reconnect' });
  });

  test('a draining gateway (SIGTERM, close 1012) is left and rejoined without the full backoff', async () => {
    const rec = await connected('r-drain', { initialDelay: 300, maxDelay: 1000 });
    await cluster.stopGateway('SIGTERM');
    await waitFor(() => rec.disconnects.length >= 1, { what: 'the 1012 close' });
    assert.equal(rec.disconnects[0].code, 1012);
    assert.ok(rec.retries[0].delay <= 300, `first retry after ${rec.retries[0].delay} ms`);
    await cluster.startGateway();
    await waitFor(() => rec.connects === 2, { timeout: 5000, what: 'reconnect after the drain' });
  });

  test('an async URL factory that fails is reported and retried', async () => {
    let calls = 0;
    const rec = recorder(
      async () => {
        calls++;
        if (calls === 1) throw new Error('token service down');
        return cluster.wsUrl('r-factory');
      },
      { initialDelay: 50, maxDelay: 100 },
    );
    await waitFor(() => rec.connects === 1, { what: 'connect on the second try' });
    assert.equal(calls, 2);
    assert.match(String(rec.errors[0]), /token service down/);
    assert.equal(rec.retries[0].attempt, 1);
  });

  test('close() stops reconnecting for good', async () => {
    let calls = 0;
    const rec = recorder(
      () => {
        calls++;
        return cluster.wsUrl('r-close');
      },
      { initialDelay: 50, maxDelay: 50 },
    );
    await waitFor(() => rec.connects === 1, { what: 'connect' });
    rec.client.close();
    await waitFor(() => rec.client.state === 'closed', { what: 'closed state' });
    assert.deepEqual(rec.disconnects, [{ code: 1000, reason: 'client closed' }]);
    // Absence can only be shown by waiting: 10 × the reconnect delay, then no new attempt.
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(calls, 1);
    assert.equal(rec.retries.length, 0);
  });
});

describe('gaps', () => {
  test('without recovery, onGap reports the messages published while disconnected', async () => {
    const channel = 'g-missed';
    const rec = await connected(channel, { initialDelay: 100, maxDelay: 200, recover: false });
    await cluster.publish(channel, 'M', { i: 1 });
    await cluster.publish(channel, 'M', { i: 2 });
    await waitFor(() => rec.events.length === 2, { what: 'seq 1 and 2' });
    assert.deepEqual(rec.gaps, []);

    await cluster.stopGateway('SIGKILL');
    for (let i = 3; i <= 5; i++) await cluster.publish(channel, 'M', { i }); // nobody listens
    await cluster.startGateway();
    await waitFor(() => rec.connects === 2, { timeout: 3000, what: 'reconnect' });
    await cluster.waitSubscribed(channel);
    assert.deepEqual(rec.gaps, [], 'no gap is known until the next message');

    let gapSeenBeforeDispatch;
    rec.client.subscribe(channel, (e, d) => {
      if (d.i === 6) gapSeenBeforeDispatch = rec.gaps.length === 1;
    });
    await cluster.publish(channel, 'M', { i: 6 });
    await waitFor(() => rec.events.length === 3, { what: 'seq 6' });
    assert.deepEqual(rec.gaps, [{ channel, expected: 3, received: 6, missed: 3, reset: false }]);
    assert.equal(gapSeenBeforeDispatch, true, 'onGap runs before the revealing frame is dispatched');
    assert.deepEqual(rec.events.map((e) => e.meta.seq), [1, 2, 6]);

    await cluster.publish(channel, 'M', { i: 7 });
    await waitFor(() => rec.events.length === 4, { what: 'seq 7' });
    assert.equal(rec.gaps.length, 1, 'consecutive again: no further gap');
  });
});

describe('presence', { skip: PRESENCE_SKIP }, () => {
  const url = (name) => cluster.wsUrl('presence-p-room', { token: 'dev', userId: name });

  test('member lists follow here / join / leave; whispers reach the others', async () => {
    const alice = recorder(url('alice'));
    const alicePresence = createPresence(alice.client, 'presence-p-room');
    const changes = [];
    alicePresence.onChange((members, change) => changes.push(change.type));
    await waitFor(() => alicePresence.has('alice'), { what: 'alice sees herself (presence:here)' });

    const bob = recorder(url('bob'));
    const bobPresence = bob.client.presence();
    await waitFor(() => bobPresence.size === 2, { what: 'bob sees alice and himself' });
    await waitFor(() => alicePresence.has('bob'), { what: 'alice sees bob join' });
    assert.deepEqual(alicePresence.members.map((m) => m.id).sort(), ['alice', 'bob']);
    assert.equal(typeof alicePresence.get('bob').joinedAt, 'number');
    assert.deepEqual(changes.slice(0, 2), ['here', 'join']);

    assert.equal(alice.client.whisper('*', 'typing', { text: 'hi' }), true);
    await waitFor(() => bob.received('whisper').length === 1, { what: 'bob gets the whisper' });
    const w = bob.received('whisper')[0];
    assert.deepEqual(w.data, { event: 'typing', data: { text: 'hi' } });
    assert.equal(w.meta.userId, 'alice');
    assert.equal(w.meta.seq, undefined, 'whispers are ephemeral');

    bob.client.close();
    await waitFor(() => !alicePresence.has('bob'), { what: 'alice sees bob leave' });
    assert.equal(changes.at(-1), 'leave');
    assert.deepEqual(alice.gaps, [], 'presence:here is a baseline, not a gap');
    alice.client.close();
  });
});

// One Pusher HTTP API request to 100 channels against 100 native single-channel publishes: router
// and Redis CPU per channel-publish, in the same run, on the same cluster.
//
//   node bench/pusher_http.mjs [--requests N] [--channels C] [--concurrency K] [--rounds R]
//
// Starts a private redis-server, one router and one gateway (build/bin, or $BELFRY_BIN_DIR) with a
// native subscriber on every channel (so every publish is fanned out for real), then alternates R
// rounds of: N Pusher requests of C channels each, and N*C native POST /broadcast/{channel}
// (K requests in flight for both). CPU is read from /proc/<pid>/stat (utime + stime) of the
// router and redis-server around each phase; the client's own CPU is not counted.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { API_KEY, APP, startCluster, waitFor } from '../tests/pusher/cluster.mjs';
import { nativeSub } from '../tests/pusher/http_helpers.mjs';

const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const N = arg('requests', 300);
const C = arg('channels', 100);
const K = arg('concurrency', 8);
const R = arg('rounds', 3);
const TICK = 100; // USER_HZ on Linux

function cpuTicks(pid) {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return Number(rest[11]) + Number(rest[12]); // utime + stime (fields 14, 15)
}

function signedUrl(port, path, body) {
  const q = {
    auth_key: APP.key, auth_timestamp: String(Math.floor(Date.now() / 1000)), auth_version: '1.0',
    body_md5: crypto.createHash('md5').update(body).digest('hex'),
  };
  const qs = Object.keys(q).sort().map((k) => `${k}=${q[k]}`).join('&');
  const sig = crypto.createHmac('sha256', APP.secret).update(`POST\n${path}\n${qs}`).digest('hex');
  return `http://127.0.0.1:${port}${path}?${qs}&auth_signature=${sig}`;
}

async function pool(n, fn) {
  let next = 0;
  const worker = async () => {
    while (next < n) await fn(next++);
  };
  await Promise.all(Array.from({ length: K }, worker));
}

async function measure(cluster, label, n, fn) {
  const pids = { router: cluster.routers[0].child.pid, redis: cluster.redis.child.pid };
  const before = { router: cpuTicks(pids.router), redis: cpuTicks(pids.redis) };
  const t0 = process.hrtime.bigint();
  await pool(n, fn);
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const after = { router: cpuTicks(pids.router), redis: cpuTicks(pids.redis) };
  const cpu = {
    router: (after.router - before.router) / TICK, redis: (after.redis - before.redis) / TICK,
  };
  return { label, wall, cpu };
}

const cluster = await startCluster({ gateways: 1, routers: 1, apps: [APP], routerArgs: ['--log-level', 'warn'] });
try {
  const port = cluster.routers[0].port;
  const names = Array.from({ length: C }, (_, i) => `bench-${i}`);
  const subs = [];
  for (const n of names) subs.push(await nativeSub(cluster.gateways[0].port, n));
  const path = `/apps/${APP.id}/events`;
  const body = JSON.stringify({ name: 'tick', channels: names, data: '{"n":1}' });
  const one = JSON.stringify({ event: 'tick', data: { n: 1 } });
  const totals = { pusher: { wall: 0, router: 0, redis: 0 }, native: { wall: 0, router: 0, redis: 0 } };
  for (let r = 0; r < R; r++) {
    const p = await measure(cluster, 'pusher', N, async () => {
      const res = await fetch(signedUrl(port, path, body), {
        method: 'POST', body, headers: { 'content-type': 'application/json' },
      });
      if (res.status !== 200) throw new Error(`pusher: ${res.status} ${await res.text()}`);
      await res.arrayBuffer();
    });
    const nat = await measure(cluster, 'native', N * C, async (i) => {
      const res = await fetch(`http://127.0.0.1:${port}/broadcast/${names[i % C]}`, {
        method: 'POST', body: one, headers: { authorization: `Bearer ${API_KEY}` },
      });
      if (res.status !== 204) throw new Error(`native: ${res.status}`);
      await res.arrayBuffer();
    });
    for (const m of [p, nat]) {
      totals[m.label].wall += m.wall;
      totals[m.label].router += m.cpu.router;
      totals[m.label].redis += m.cpu.redis;
    }
  }
  const publishes = R * N * C;
  await waitFor(() => subs.every((s) => s.frames.length === 2 * R * N), {
    what: 'every publish delivered', timeout: 60000,
  });
  const row = (label) => {
    const t = totals[label];
    const us = (x) => ((x * 1e6) / publishes).toFixed(2);
    return { label, 'channel-publishes/s': Math.round(publishes / t.wall),
      'router µs/publish': us(t.router), 'redis µs/publish': us(t.redis),
      'total µs/publish': us(t.router + t.redis) };
  };
  const rows = [row('pusher'), row('native')];
  console.table(rows);
  const ratio = (totals.pusher.router + totals.pusher.redis) / (totals.native.router + totals.native.redis);
  console.log(`CPU per channel-publish, one ${C}-channel Pusher request vs ${C} native publishes: ` +
    `${ratio.toFixed(3)}x (router ${(totals.pusher.router / totals.native.router).toFixed(3)}x, ` +
    `redis ${(totals.pusher.redis / totals.native.redis).toFixed(3)}x); ` +
    `${publishes} channel-publishes each way, every one delivered`);
  for (const s of subs) s.close();
} finally {
  await cluster.stop();
}

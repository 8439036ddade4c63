// A real Belfry cluster for the Pusher-compatibility tests: a private redis-server, `routers`
// routers and `gateways` gateways from build/bin (or $BELFRY_BIN_DIR), each on a free loopback
// port, all configured with the same apps. Readiness is polled (never slept on); stop() kills
// everything (and the process 'exit' hook does, should a test crash past its `after`).
//
// The topology parameter (as the C harness': BELFRY_TEST_TOPOLOGY, or startCluster's `topology`):
// 'single' (the default) or 'cluster' — six redis-servers in cluster mode (three primaries with a
// replica each, on free ports whose bus port, +10000, is free too), created with
// `redis-cli --cluster create`, the daemons on its cluster:// URL. redisPort is then the first
// node's (a PUBLISH there reaches every node; keyed commands may answer MOVED).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  BIN_DIR, freePort, Proc as BaseProc, redisCommand, waitFor,
} from '../../client/js/test/cluster.mjs';

export { BIN_DIR, freePort, redisCommand, waitFor };

/** The default test app: id, key and secret as a Pusher dashboard would show them. */
export const APP = { id: '1001', key: 'belfry-test-key', secret: 'belfry-test-secret-0123456789' };
/** A second app, to check that apps share nothing. */
export const APP2 = { id: '1002', key: 'belfry-other-key', secret: 'belfry-other-secret-987654' };
export const API_KEY = 'pusher-test-api-key-0123456789abcdef';

async function httpOk(url) {
  try {
    const r = await fetch(url);
    return r.status === 200;
  } catch {
    return false;
  }
}

/** One daemon (client/js/test's Proc, which keeps its output and kills it at exit); stop()
 * sends SIGTERM first here, so that the tests see each daemon's clean exit. */
export class Proc extends BaseProc {
  constructor(name, cmd, args) {
    super(name, cmd, args);
    this.args = args;
  }

  stop(signal = 'SIGTERM', timeout = 15000) {
    return super.stop(signal, timeout);
  }
}

/**
 * Starts redis, then `routers` routers and `gateways` gateways, every daemon with --app for each
 * of `apps`. gatewayArgs / routerArgs are extra flags. Always `await cluster.stop()` in `after`.
 */
export async function startCluster({
  gateways = 2, routers = 1, apps = [APP, APP2], gatewayArgs = [], routerArgs = [],
  topology = process.env.BELFRY_TEST_TOPOLOGY || 'single',
} = {}) {
  if (!['single', 'cluster'].includes(topology))
    throw new Error(`BELFRY_TEST_TOPOLOGY=${topology}: single or cluster (Sentinel: the C suites)`);
  const c = new Cluster({ apps, gatewayArgs, routerArgs, topology });
  try {
    await c.start(gateways, routers);
  } catch (err) {
    await c.stop();
    throw err;
  }
  return c;
}

export class Cluster {
  constructor({ apps, gatewayArgs, routerArgs, topology = 'single' }) {
    this.topology = topology;
    this.nodes = [];
    this.appArgs = apps.flatMap((a) => ['--app', `${a.id}:${a.key}:${a.secret}`]);
    this.gatewayArgs = gatewayArgs;
    this.routerArgs = routerArgs;
    this.routers = [];
    this.gateways = [];
    this.redis = null;
  }

  async start(gateways, routers) {
    if (this.topology === 'cluster') await this.startRedisCluster();
    else await this.startRedis();
    for (let i = 0; i < routers; i++) await this.startRouter();
    for (let i = 0; i < gateways; i++) await this.startGateway();
  }

  /** Six cluster-mode redis-servers, created as three primaries with a replica each. */
  async startRedisCluster() {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'belfry-pusher-rcluster-'));
    for (let i = 0; i < 6; i++) {
      let port;
      do port = await freePort(); while (port + 10000 > 65535);
      const p = new Proc(`redis-cluster#${i}`, 'redis-server', [
        '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
        '--dir', this.dir, '--cluster-enabled', 'yes', '--cluster-config-file',
        `nodes-${port}.conf`, '--cluster-node-timeout', '1000',
      ]);
      p.port = port;
      this.nodes.push(p);
      await waitFor(async () => {
        p.assertRunning(); // a bus port taken meanwhile: the test fails with redis' log
        return (await redisCommand(port, 'PING')) === 'PONG';
      }, { what: `cluster node ${i} to answer PING` });
    }
    const addrs = this.nodes.map((n) => `127.0.0.1:${n.port}`);
    await promisify(execFile)('redis-cli', ['--cluster', 'create', ...addrs,
      '--cluster-replicas', '1', '--cluster-yes'], { timeout: 20000 });
    await waitFor(async () => {
      for (const n of this.nodes) {
        const info = await redisCommand(n.port, 'CLUSTER', 'INFO');
        if (!String(info).includes('cluster_state:ok')) return false;
      }
      return true;
    }, { what: 'the redis cluster to be ok', timeout: 20000 });
    this.redisPort = this.nodes[0].port;
    this.redisUrl = `cluster://${addrs.join(',')}`;
  }

  async startRedis() {
    this.redisPort = await freePort();
    this.redis = new Proc('redis-server', 'redis-server', [
      '--port', String(this.redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
    ]);
    await waitFor(async () => {
      this.redis.assertRunning();
      return (await redisCommand(this.redisPort, 'PING')) === 'PONG';
    }, { what: 'redis-server to answer PING' });
    this.redisUrl = `redis://127.0.0.1:${this.redisPort}`;
  }

  /** Starts one more router (or restarts router i on its port); waits for /readyz. */
  async startRouter(i = this.routers.length) {
    const port = this.routers[i]?.port ?? (await freePort());
    const p = new Proc(`belfry-router#${i}`, path.join(BIN_DIR, 'belfry-router'), [
      '--listen', `127.0.0.1:${port}`, '--redis', this.redisUrl, '--api-key', API_KEY,
      '--heartbeat-ms', '200', '--heartbeat-ttl-ms', '1000', ...this.appArgs, ...this.routerArgs,
    ]);
    p.port = port;
    this.routers[i] = p;
    await waitFor(() => {
      p.assertRunning();
      return httpOk(`http://127.0.0.1:${port}/readyz`);
    }, { what: `belfry-router#${i} /readyz`, timeout: 10000 });
    return p;
  }

  /** Starts one more gateway (or restarts gateway i on its port); waits for /readyz. */
  async startGateway(i = this.gateways.length, extra = []) {
    const port = this.gateways[i]?.port ?? (await freePort());
    const p = new Proc(`belfry-gateway#${i}`, path.join(BIN_DIR, 'belfry-gateway'), [
      '--listen', `127.0.0.1:${port}`, '--redis', this.redisUrl, '--heartbeat-ms', '200',
      '--heartbeat-ttl-ms', '1000', '--drain-timeout', '2', ...this.appArgs,
      // back-pressure off: scheduling hiccups would turn publishes into 503 overloaded at random
      '--backlog-limit-ms', '0',
      ...this.gatewayArgs, ...extra,
    ]);
    p.port = port;
    this.gateways[i] = p;
    await waitFor(() => {
      p.assertRunning();
      return httpOk(`http://127.0.0.1:${port}/readyz`);
    }, { what: `belfry-gateway#${i} /readyz`, timeout: 10000 });
    return p;
  }

  /** Stops everything; returns the exit statuses of the daemons (SIGTERM first). */
  async stop() {
    const out = [];
    for (const p of [...this.gateways, ...this.routers]) if (p) out.push([p.name, await p.stop()]);
    if (this.redis) await this.redis.stop('SIGKILL');
    for (const n of this.nodes) await n.stop('SIGKILL');
    if (this.dir) fs.rmSync(this.dir, { recursive: true, force: true });
    return out;
  }

  /** Daemon logs, for failure messages. */
  logs() {
    return [...this.gateways, ...this.routers].filter(Boolean)
      .map((p) => `--- ${p.name}\n${p.log}`).join('\n');
  }
}

/**
 * A test file's `after`: stops the cluster (if it started) and asserts that every daemon exited 0,
 * with their logs in the message. Daemons named in `killed` (stopped on purpose by the test) are
 * not checked.
 */
export async function stopCluster(cluster, { killed = new Set() } = {}) {
  const st = await cluster?.stop();
  for (const [name, s] of st ?? []) {
    if (killed.has(name)) continue;
    assert.equal(s.code, 0, `${name} exited ${JSON.stringify(s)}\n${cluster.logs()}`);
  }
}

// Helpers for the gateway-side Pusher tests (gateway_*.test.mjs, echo_*.test.mjs): pusher-js
// clients pointed at a gateway, raw `ws` sockets speaking the protocol by hand, and the native
// ways to publish (router HTTP API, Redis ingress).
import Pusher from 'pusher-js';
import WebSocket from 'ws';
import { API_KEY, APP, redisCommand, waitFor } from './cluster.mjs';

export { Pusher, WebSocket };

/** A pusher-js client (its Node build) on gateway port `port`; `opts` are merged in. */
export function pusherClient(port, { app = APP, ...opts } = {}) {
  return new Pusher(app.key, {
    cluster: '',
    wsHost: '127.0.0.1',
    wsPort: port,
    forceTLS: false,
    enabledTransports: ['ws'],
    disableStats: true,
    ...opts,
  });
}

/** Resolves once `client` is connected; returns its socket_id. */
export async function connected(client) {
  if (client.connection.state !== 'connected') {
    await new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`not connected: ${client.connection.state}`)), 5000);
      client.connection.bind('connected', () => {
        clearTimeout(t);
        resolve();
      });
    });
  }
  return client.connection.socket_id;
}

/** Subscribes and resolves with the channel once pusher:subscription_succeeded arrives. */
export function subscribed(client, name) {
  const ch = client.subscribe(name);
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no subscription_succeeded on ${name}`)), 5000);
    ch.bind('pusher:subscription_succeeded', () => {
      clearTimeout(t);
      resolve(ch);
    });
    ch.bind('pusher:subscription_error', (e) => {
      clearTimeout(t);
      reject(new Error(`subscription_error on ${name}: ${JSON.stringify(e)}`));
    });
  });
}

/** Collects every event `event` bound on channel object `ch` into an array. */
export function collect(ch, event) {
  const got = [];
  ch.bind(event, (data, meta) => got.push({ data, meta }));
  return got;
}

/** POST /broadcast/{channel} on a router (the native HTTP API, default app). */
export async function publishNative(routerPort, channel, event, data) {
  const r = await fetch(`http://127.0.0.1:${routerPort}/broadcast/${channel}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ event, data }),
  });
  if (r.status < 200 || r.status > 299) throw new Error(`publish ${channel}: ${r.status} ${await r.text()}`);
}

/** PUBLISH belfry:publish:{channel} (Redis ingress, default app). */
export function publishRedis(redisPort, channel, event, data) {
  return redisCommand(redisPort, 'PUBLISH', `belfry:publish:${channel}`, JSON.stringify({ event, data }));
}

/**
 * A raw WebSocket on /app/{key}: `frames` collects every parsed server frame, `next(pred)` waits
 * for the first (not yet taken) frame matching pred, `closed` resolves with {code, reason}.
 */
export async function rawPusher(port, key = APP.key, { open = true } = {}) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/app/${key}?protocol=7&client=js&version=8.6.0`);
  const frames = [];
  const taken = new Set();
  ws.frames = frames;
  ws.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  ws.on('message', (d) => {
    const f = JSON.parse(d.toString());
    if (typeof f.data === 'string') {
      try { f.parsed = JSON.parse(f.data); } catch { f.parsed = f.data; }
    }
    frames.push(f);
  });
  ws.next = async (pred, what = 'a frame') => {
    let found;
    await waitFor(() => {
      found = frames.find((f, i) => !taken.has(i) && pred(f) && (taken.add(i), true));
      return found !== undefined;
    }, { what, timeout: 5000 });
    return found;
  };
  ws.sendJson = (o) => ws.send(typeof o === 'string' ? o : JSON.stringify(o));
  if (open) {
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
  }
  return ws;
}

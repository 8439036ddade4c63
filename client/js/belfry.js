/**
 * belfry.js — the Belfry WebSocket client for browsers and Node 20+.
 *
 * The API re-creates @roostjs/broadcast/client: one client owns one WebSocket to one channel
 * URL (ws://HOST/ws/{channel}), reconnects by itself with exponential backoff and jitter, and
 * dispatches the server's frames to handlers. Belfry additions, all optional:
 *   - handlers registered under the socket's channel name AND under '*' both receive events;
 *   - recovery: every reconnect resumes where the last socket stopped (?since=N&epoch=E), and
 *     the gateway replays what was published meanwhile, once each and in order;
 *     onRecoveryFailed(info) tells when it could not (reload the app's state then);
 *   - onGap(info) is called when the per-channel `seq` jumps (messages were missed);
 *   - createPresence(client) keeps a live member list of a presence channel.
 *
 * Dependency-free ES module. Browsers use their WebSocket; Node 20 has none, so pass one:
 *   import WebSocket from 'ws';
 *   createBroadcastClient(url, { WebSocket });
 *
 * Wire format (server → client), JSON text frames:
 *   {"event":NAME,"data":DATA,"seq":N}                 sequenced, consecutive per channel
 *   {"event":"whisper","data":{"event":E,"data":D},"user_id":U}   ephemeral, no seq
 *   {"event":"error","data":{"code":C,"message":M}}    ephemeral, no seq
 *   {"event":"belfry:subscribed","data":{"epoch":E,"seq":N,"recovered"?:B,"missed"?:K}}
 *                                                       first frame when recovering, no seq
 */

const WS_OPEN = 1;

/** Close codes with a meaning for reconnection. */
export const CLOSE_NORMAL = 1000;
export const CLOSE_SERVICE_RESTART = 1012; /* gateway draining: another one will take us */
export const CLOSE_SLOW_CONSUMER = 4008; /* we fell behind; messages were dropped */

const CHANNEL_TYPES = ['private', 'presence'];

/** Query parameters the client owns when recovering; the URL's own are replaced. */
const RECOVERY_PARAMS = ['recover', 'since', 'epoch'];
/** What the gateway accepts back as an epoch. */
const EPOCH_RE = /^[0-9a-f]{1,39}$/;

/**
 * Puts the recovery parameters into a URL: since=N&epoch=E when the position is known, else
 * recover=1; then the URL's other parameters, unchanged. Ours go first because the gateway stops
 * scanning the query at an argument longer than its buffer (a JWT in token=). A fragment is
 * dropped (WebSocket URLs cannot have one).
 */
function withRecovery(url, since, epoch) {
  const hash = url.indexOf('#');
  if (hash >= 0) url = url.slice(0, hash);
  const q = url.indexOf('?');
  const base = q < 0 ? url : url.slice(0, q);
  const rest =
    q < 0
      ? []
      : url
          .slice(q + 1)
          .split('&')
          .filter((p) => p && !RECOVERY_PARAMS.includes(p.split('=')[0]));
  const ours = epoch === undefined ? ['recover=1'] : [`since=${since}`, `epoch=${epoch}`];
  return `${base}?${[...ours, ...rest].join('&')}`;
}

/**
 * Works out which channel a /ws/{channel}[?type=] URL joins, the way the gateway resolves it
 * (`?type=presence` on "demo" joins "presence-demo"). Returns [resolved, asWritten], or [] when
 * the URL has no /ws/ path (then only '*' handlers receive events).
 */
function channelOf(url) {
  let u;
  try {
    u = new URL(url, globalThis.location ? globalThis.location.href : undefined);
  } catch {
    return [];
  }
  const i = u.pathname.lastIndexOf('/ws/');
  if (i < 0) return [];
  let raw;
  try {
    raw = decodeURIComponent(u.pathname.slice(i + 4));
  } catch {
    return [];
  }
  if (!raw) return [];
  const type = u.searchParams.get('type');
  const prefixed = CHANNEL_TYPES.some((t) => raw.startsWith(`${t}-`));
  if (CHANNEL_TYPES.includes(type) && !prefixed) return [`${type}-${raw}`, raw];
  return [raw];
}

/**
 * Creates a client and starts connecting at once.
 *
 * @param {string | (() => string | Promise<string>)} urlOrFactory  The WebSocket URL, or a
 *   function returning it; the function is called before every (re)connect, so it can mint a
 *   fresh token each time.
 * @param {object} [options]
 * @param {number} [options.initialDelay=1000]  First reconnect delay, ms (doubles per failure).
 * @param {number} [options.maxDelay=30000]  Cap on the reconnect delay, ms.
 * @param {() => void} [options.onConnect]  Connected and subscribed: every message published
 *   from now on reaches this client. With recovery (the default) when belfry:subscribed
 *   arrives, a few ms after the socket opened and before it is handled (onRecoveryFailed,
 *   onGap, handlers with deliverSubscribed run after); with `recover: false`, when the socket
 *   opens (the gateway's own subscription may then still be on its way).
 * @param {(code: number, reason: string) => void} [options.onDisconnect]  A socket closed
 *   (also a connection attempt that failed: code 1006).
 * @param {(delayMs: number, attempt: number) => void} [options.onReconnecting]  A reconnect is
 *   scheduled in delayMs; attempt counts from 1 and resets after a successful connect.
 * @param {(info: GapInfo) => void} [options.onGap]  seq jumped: see GapInfo.
 * @param {(info: RecoveryInfo) => void} [options.onRecoveryFailed]  The gateway could not replay
 *   what the client missed while away (history lost or too short): reload the app's state.
 *   Without it, onGap is called instead (with `recoveryFailed: true`).
 * @param {boolean} [options.recover=true]  Resume on every reconnect (recover=1 / since=N&epoch=E
 *   in the URL). false: never touch the URL (servers without recovery).
 * @param {boolean} [options.deliverSubscribed=false]  Also dispatch belfry:subscribed to handlers.
 * @param {(err: unknown) => void} [options.onError]  A URL factory or a handler threw. Without
 *   it, a failed connect is logged with console.warn (and retried), and a handler's error is
 *   rethrown asynchronously (so it reaches the console, or Node's uncaughtException).
 * @param {typeof WebSocket} [options.WebSocket]  WebSocket constructor (required in Node 20).
 *
 * @typedef {{channel: string, expected: number, received: number, missed: number | null,
 *   reset: boolean}} GapInfo  `expected` is the seq that should have come next. `missed` is
 *   how many messages never arrived (received - expected), or null with `reset: true` when seq
 *   went backwards (the server's counter started over: anything may have been lost).
 *   `recoveryFailed: true` marks the onGap fallback for a failed recovery (no onRecoveryFailed):
 *   `expected` is then since + 1 and `received` seq + 1, where live messages resume.
 *
 * @typedef {{channel: string, since: number, seq: number, missed: number | null,
 *   epochChanged: boolean, epoch: string | undefined}} RecoveryInfo  The client had every
 *   message up to `since` and asked for the rest; the channel is now at `seq` and live messages
 *   continue from seq + 1. `missed` is the gateway's count of messages it could not replay.
 *   `epochChanged`: the channel's sequence restarted (Redis lost its data), so `since` belongs to
 *   a history that is gone; otherwise `since` is older than the retained history.
 */
export function createBroadcastClient(urlOrFactory, options = {}) {
  if (typeof urlOrFactory !== 'string' && typeof urlOrFactory !== 'function')
    throw new TypeError('belfry: urlOrFactory must be a URL string or a function returning one');
  const opts = { initialDelay: 1000, maxDelay: 30000, recover: true, ...options };
  const WS = opts.WebSocket || globalThis.WebSocket;
  if (typeof WS !== 'function')
    throw new TypeError(
      'belfry: no WebSocket implementation; pass options.WebSocket (in Node 20: the "ws" package)',
    );

  /** handler key (channel name or '*') → Set of handlers */
  const handlers = new Map();
  /** channel → last seq seen; kept across reconnects, to resume from (or to reveal a gap) */
  const lastSeq = new Map();
  /** channel → its epoch from belfry:subscribed: with lastSeq, the position to resume from */
  const epochs = new Map();
  /** The current socket's recovery: what it asked for, and whether belfry:subscribed came. */
  let conn = { since: undefined, subscribed: false };

  let ws = null; /* the current socket, or null between sockets */
  let names = []; /* [resolved, asWritten?] channel names of the current URL */
  let state = 'connecting'; /* connecting | open | reconnecting | closed */
  let attempt = 0; /* consecutive failed connects, for the backoff */
  let timer = null;
  let closed = false;

  /* Errors in application code. A failed connect (factory rejected, bad URL) is operational
   * and retried, so without onError it is only logged; a throwing handler is a bug, rethrown
   * asynchronously: it must not stop the dispatch loop, nor be swallowed. */
  function report(err, operational = false) {
    if (opts.onError) {
      try {
        opts.onError(err);
        return;
      } catch (e) {
        err = e;
      }
    }
    if (operational) {
      console.warn('belfry: connect failed, will retry:', err);
      return;
    }
    setTimeout(() => {
      throw err;
    });
  }

  function callOpt(name, ...args) {
    if (typeof opts[name] !== 'function') return;
    try {
      opts[name](...args);
    } catch (err) {
      report(err);
    }
  }

  async function connect() {
    timer = null;
    state = 'connecting';
    let url;
    try {
      url = typeof urlOrFactory === 'function' ? await urlOrFactory() : urlOrFactory;
      if (closed) return;
      url = String(url);
      names = channelOf(url);
      const channel = names[0] ?? '*';
      const epoch = epochs.get(channel);
      const since = epoch === undefined ? undefined : lastSeq.get(channel) ?? 0;
      conn = { since, subscribed: false };
      if (opts.recover !== false) url = withRecovery(url, conn.since, epoch);
      ws = new WS(url);
    } catch (err) {
      if (closed) return;
      report(err, true);
      scheduleReconnect(0);
      return;
    }
    const sock = ws;
    sock.onopen = () => {
      if (sock !== ws) return;
      attempt = 0; /* a successful connect resets the backoff */
      state = 'open';
      // Recovering, the socket is connected once belfry:subscribed gives its position: from
      // then on every publish reaches it (before, one could fall in between).
      if (opts.recover === false) callOpt('onConnect');
    };
    sock.onmessage = (ev) => {
      if (sock === ws && typeof ev.data === 'string') onFrame(ev.data);
    };
    sock.onerror = () => {
      /* always followed by close, whose code says more */
    };
    sock.onclose = (ev) => {
      if (sock !== ws) return;
      ws = null;
      callOpt('onDisconnect', ev.code, ev.reason || '');
      if (closed) state = 'closed';
      else scheduleReconnect(ev.code);
    };
  }

  function scheduleReconnect(code) {
    if (closed) return;
    const base = Math.min(opts.maxDelay, opts.initialDelay * 2 ** Math.min(attempt, 30));
    // Equal jitter: never sooner than half the configured delay, yet a crowd of clients that
    // lost the same gateway spreads out instead of stampeding back in lockstep.
    let delay = base / 2 + (Math.random() * base) / 2;
    // A draining gateway (1012) closed us on purpose and its peers are up: come back soon,
    // spread over initialDelay. Only the first time, so a fleet-wide restart still backs off.
    if (code === CLOSE_SERVICE_RESTART && attempt === 0) delay = Math.random() * opts.initialDelay;
    attempt++;
    state = 'reconnecting';
    callOpt('onReconnecting', Math.round(delay), attempt);
    timer = setTimeout(connect, delay);
  }

  /* Reports a discontinuity: messages expected..received-1 missed, or (received < expected)
   * the sequence restarted. */
  function gap(channel, expected, received, extra = {}) {
    const reset = extra.reset || received < expected;
    const missed = reset ? null : received - expected;
    callOpt('onGap', { channel, expected, received, missed, reset, ...extra });
  }

  /* belfry:subscribed: the first frame of a socket that asked for recovery. */
  function onSubscribed(channel, data) {
    conn.subscribed = true;
    const seq = Number.isSafeInteger(data?.seq) && data.seq > 0 ? data.seq : 0;
    const ok = typeof data?.epoch === 'string' && EPOCH_RE.test(data.epoch);
    const epoch = ok ? data.epoch : undefined;
    const old = epochs.get(channel);
    const epochChanged = old !== undefined && epoch !== undefined && epoch !== old;
    if (epoch === undefined) epochs.delete(channel);
    else epochs.set(channel, epoch);
    const last = lastSeq.get(channel);
    if (data?.recovered === undefined) {
      // recover=1: the position; live frames continue from seq + 1. A baseline without an epoch
      // (the sequence restarted under us) is compared now rather than at the next frame.
      lastSeq.set(channel, seq);
      if (last !== undefined && last !== seq) gap(channel, last + 1, seq + 1);
      return;
    }
    if (data.recovered === true) return; // the replay follows, checked like live frames
    lastSeq.set(channel, seq);
    const since = conn.since ?? 0;
    const missed = Number.isSafeInteger(data.missed) ? data.missed : null;
    if (typeof opts.onRecoveryFailed === 'function')
      callOpt('onRecoveryFailed', { channel, since, seq, missed, epochChanged, epoch });
    else gap(channel, since + 1, seq + 1, { reset: epochChanged, recoveryFailed: true });
  }

  /* Checks seq continuity before the frame is dispatched, so onGap runs first and the app can
   * mark its state stale before applying the frame that revealed the hole. */
  function trackSeq(channel, event, seq) {
    const last = lastSeq.get(channel);
    if (event === 'presence:here') {
      if (conn.subscribed && last !== undefined) {
        // Recovering: it arrives in order behind the replay, as of the last seq seen (the user
        // was already a member) or of its own join, which it stands for.
        if (seq > last) lastSeq.set(channel, seq);
        if (seq > last + 1) gap(channel, last + 1, seq);
        return;
      }
      // A snapshot taken at seq: it replaces what came before, so it starts a new baseline.
      lastSeq.set(channel, seq);
      return;
    }
    lastSeq.set(channel, seq);
    if (last === undefined || seq === last + 1) return;
    // Going backwards, the sequence restarted under us (Redis lost the channel): our epoch is
    // stale. Resume by position next time; the baseline then tells what was missed.
    if (seq <= last) epochs.delete(channel);
    gap(channel, last + 1, seq);
  }

  function onFrame(text) {
    let msg;
    try {
      msg = JSON.parse(text);
    } catch {
      return; /* not a Belfry frame */
    }
    if (!msg || typeof msg !== 'object' || typeof msg.event !== 'string') return;
    const channel = names[0] ?? '*';
    if (msg.event === 'belfry:subscribed') {
      if (!conn.subscribed && opts.recover !== false) callOpt('onConnect');
      if (closed) return; // onConnect closed the client
      onSubscribed(channel, msg.data);
      if (!opts.deliverSubscribed) return;
    }
    const meta = { channel };
    if (Number.isSafeInteger(msg.seq) && msg.seq > 0) {
      meta.seq = msg.seq;
      trackSeq(channel, msg.event, msg.seq);
    }
    if (typeof msg.user_id === 'string') meta.userId = msg.user_id;
    Object.freeze(meta); /* shared by every handler */
    // Every handler once, even if it is registered under several matching keys.
    const targets = new Set();
    for (const key of ['*', ...names]) for (const h of handlers.get(key) ?? []) targets.add(h);
    for (const h of targets) {
      try {
        h(msg.event, msg.data, meta);
      } catch (err) {
        report(err);
      }
    }
  }

  const client = {
    /**
     * Registers handler(event, data, meta) under a channel key: the socket's channel name (as
     * resolved by the gateway, or as written in the URL) or '*'. meta is {channel, seq?,
     * userId?}: seq on sequenced frames, userId on whispers. Returns an unsubscribe function.
     */
    subscribe(channel, handler) {
      if (typeof handler !== 'function') throw new TypeError('belfry: handler must be a function');
      let set = handlers.get(channel);
      if (!set) handlers.set(channel, (set = new Set()));
      set.add(handler);
      return () => {
        const s = handlers.get(channel);
        if (!s) return;
        s.delete(handler);
        if (!s.size) handlers.delete(channel);
      };
    },

    /** Removes every handler registered under this channel key. The socket stays open. */
    unsubscribe(channel) {
      handlers.delete(channel);
    },

    /**
     * Sends a whisper (a client-to-client event, not stored, no seq) to the other members of
     * the channel. Only while the socket is open: returns true if it was sent, false if not.
     * channel '*' or either form of the socket's channel name means the socket's channel.
     */
    whisper(channel, event, data) {
      if (typeof event !== 'string' || !event) throw new TypeError('belfry: whisper needs an event name');
      if (!ws || ws.readyState !== WS_OPEN) return false;
      const target = channel === '*' || names.includes(channel) ? names[0] ?? channel : channel;
      ws.send(JSON.stringify({ event: 'whisper', channel: target, data: { event, data } }));
      return true;
    },

    /** Closes the socket and stops reconnecting. The client cannot be reopened. */
    close() {
      if (closed) return;
      closed = true;
      clearTimeout(timer);
      timer = null;
      if (ws) ws.close(CLOSE_NORMAL, 'client closed');
      else state = 'closed';
    },

    /** Shorthand for createPresence(client, channel). */
    presence(channel = '*') {
      return createPresence(client, channel);
    },

    /** 'connecting' | 'open' | 'reconnecting' | 'closed' */
    get state() {
      return state;
    },

    /** The channel of the current (or last) socket, as the gateway resolves it; null if unknown. */
    get channel() {
      return names[0] ?? null;
    },

    /** Last seq seen on a channel (default: the socket's), or undefined. */
    lastSeq(channel = names[0]) {
      return lastSeq.get(channel);
    },

    /** The channel's epoch from belfry:subscribed (default: the socket's), or undefined. */
    epoch(channel = names[0]) {
      return epochs.get(channel);
    },
  };

  connect();
  return client;
}

/**
 * Keeps the member list of a presence channel up to date from presence:here (the full list,
 * sent on every (re)connect: first, or behind the replayed messages when recovering),
 * presence:join and presence:leave (one per user, not per tab).
 *
 * @param client  A client whose URL is a presence channel.
 * @param [channel='*']  Handler key to listen on (see client.subscribe).
 * @returns {{members: Member[], get(id: string): Member | undefined, has(id: string): boolean,
 *   readonly size: number, onChange(fn: (members: Member[], change: Change) => void): () => void,
 *   stop(): void}}  members is a fresh array in join order; onChange returns its unsubscribe.
 *
 * @typedef {{id: string, joinedAt?: number, info?: unknown}} Member
 * @typedef {{type: 'here' | 'join' | 'leave', member?: Member}} Change
 */
export function createPresence(client, channel = '*') {
  const members = new Map(); /* id → member; Map keeps join order */
  const listeners = new Set();

  function emit(change) {
    const list = [...members.values()];
    for (const fn of [...listeners]) fn(list, change);
  }

  const off = client.subscribe(channel, (event, data) => {
    if (event === 'presence:here') {
      members.clear();
      for (const m of data?.members ?? []) if (m && typeof m.id === 'string') members.set(m.id, m);
      emit({ type: 'here' });
    } else if (event === 'presence:join') {
      const m = data?.member;
      if (!m || typeof m.id !== 'string') return;
      members.set(m.id, m);
      emit({ type: 'join', member: m });
    } else if (event === 'presence:leave') {
      const m = data?.member;
      if (!m || typeof m.id !== 'string') return;
      const had = members.get(m.id);
      if (!members.delete(m.id)) return;
      emit({ type: 'leave', member: had });
    }
  });

  return {
    get members() {
      return [...members.values()];
    },
    get size() {
      return members.size;
    },
    get(id) {
      return members.get(id);
    },
    has(id) {
      return members.has(id);
    },
    onChange(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    stop() {
      off();
      listeners.clear();
    },
  };
}

#!/usr/bin/env bash
# `make run`: a local Belfry cluster in the foreground — a private redis-server (no persistence),
# one belfry-router and one belfry-gateway — on free local ports. Ctrl-C stops everything.
# Development conveniences are on and say so: no API key, any token accepted. A development Pusher
# app (id 1, key belfry-dev, a fresh random secret) is configured on both daemons, and its
# credentials are printed with ready-to-paste pusher-js, Laravel Echo and server-SDK snippets.
set -euo pipefail
BUILD=${1:-build}
BIN="$BUILD/bin"
RUN_DIR=$(mktemp -d /tmp/belfry-run-XXXXXX)
PIDS=()

STOPPING=0
cleanup() {
  STOPPING=1
  trap - INT TERM EXIT
  echo
  echo "belfry: stopping..."
  # gateway and router first (they leave Redis cleanly), Redis last
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    kill -TERM "${PIDS[$i]}" 2>/dev/null || true
    wait "${PIDS[$i]}" 2>/dev/null || true
  done
  rm -rf "$RUN_DIR"
  echo "belfry: stopped"
}
trap cleanup INT TERM EXIT

REDIS_PORT=$(python3 scripts/free-port.py 0)
ROUTER_PORT=$(python3 scripts/free-port.py 8090)
GATEWAY_PORT=$(python3 scripts/free-port.py 8080)
REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
APP_ID=1
APP_KEY=belfry-dev
APP_SECRET=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
APP_FLAGS=(--app "$APP_ID:$APP_KEY:$APP_SECRET")

redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$RUN_DIR" \
  --logfile "$RUN_DIR/redis.log" &
PIDS+=($!)
for _ in $(seq 100); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.05; done

"$BIN/belfry-router" --listen "127.0.0.1:$ROUTER_PORT" --redis "$REDIS_URL" --insecure-no-api-key \
  "${APP_FLAGS[@]}" &
PIDS+=($!)
GW_FLAGS=()
if "$BIN/belfry-gateway" --help | grep -q -- --insecure-any-token; then GW_FLAGS+=(--insecure-any-token); fi
"$BIN/belfry-gateway" --listen "127.0.0.1:$GATEWAY_PORT" --redis "$REDIS_URL" "${GW_FLAGS[@]}" \
  "${APP_FLAGS[@]}" &
PIDS+=($!)

for port in "$ROUTER_PORT" "$GATEWAY_PORT"; do
  for _ in $(seq 200); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.05; done
done

cat <<MSG

  Belfry is running (Ctrl-C to stop).

  Demo page        http://127.0.0.1:$GATEWAY_PORT/
  WebSocket        ws://127.0.0.1:$GATEWAY_PORT/ws/{channel}      e.g. ws://127.0.0.1:$GATEWAY_PORT/ws/news
  HTTP publish     http://127.0.0.1:$ROUTER_PORT/broadcast/{channel}
  Redis            $REDIS_URL

  Publish with curl:
    curl -i -X POST http://127.0.0.1:$ROUTER_PORT/broadcast/news -H 'Content-Type: application/json' \\
         -d '{"event":"Hello","data":{"text":"hi from curl"}}'

  Publish with redis-cli:
    redis-cli -p $REDIS_PORT PUBLISH belfry:publish:news '{"event":"Hello","data":{"text":"hi from redis"}}'

  Pusher app (pusher-js, Laravel Echo, the Pusher server SDKs; see docs/pusher.md)
    app id $APP_ID    key $APP_KEY    secret $APP_SECRET

  pusher-js:
    const pusher = new Pusher('$APP_KEY', { cluster: '', wsHost: '127.0.0.1', wsPort: $GATEWAY_PORT,
      forceTLS: false, enabledTransports: ['ws'] });
    pusher.subscribe('news').bind('Hello', (data) => console.log(data));

  Laravel Echo:
    new Echo({ broadcaster: 'pusher', key: '$APP_KEY', cluster: '', wsHost: '127.0.0.1',
      wsPort: $GATEWAY_PORT, forceTLS: false, enabledTransports: ['ws'] })
      .channel('news').listen('.Hello', (e) => console.log(e));

  Publish signed, with the pusher server SDK (npm install pusher):
    node -e "new (require('pusher'))({appId: '$APP_ID', key: '$APP_KEY', secret: '$APP_SECRET',
      host: '127.0.0.1', port: '$ROUTER_PORT', useTLS: false}).trigger('news', 'Hello', {text: 'hi'})
      .then((r) => console.log(r.status))"

  Presence demo: open the demo page in two tabs (the gateway accepts any token in this mode).
  Mint a real token for a gateway started with --jwt-secret:
    $BIN/belfryctl token --secret "\$SECRET" --user alice --channel 'presence-demo' --ttl 1h

  INSECURE development mode: no API key, any token accepted. Never expose these ports.

MSG
status=0
wait -n "${PIDS[@]}" || status=$?
if [ "$STOPPING" = 0 ]; then
  echo "belfry: a process exited unexpectedly (status $status); logs are above" >&2
  exit 1
fi

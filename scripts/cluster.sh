#!/usr/bin/env bash
# scripts/cluster.sh up|down|status|env — the docker-compose.yml topology as local processes:
# redis, 2 routers, 3 gateways and HAProxy on one public port, started with the same environment
# variables as the compose services and HAProxy on the same deploy/haproxy/haproxy.cfg.
#
# As in compose, HAProxy finds the gateways and routers through DNS (server-template + resolvers):
# deploy/local/dnsstub.py answers for the service names `gateway` and `router` the way Docker's
# embedded DNS does, and every gateway/router listens on its own loopback address (127.X.Y.n) and
# the same port, as containers do on their own IPs.
#
# Environment (all optional):
#   BELFRY_BIN_DIR            the binaries (default: build/bin, i.e. after `make build`)
#   BELFRY_CLUSTER_DIR        state: pids, logs, ports (default: .run/cluster)
#   BELFRY_CLUSTER_PORT       public port (default: 8000 if free, else any; 0: any free port)
#   BELFRY_CLUSTER_GATEWAYS   gateways (default 3)      BELFRY_CLUSTER_ROUTERS  routers (default 2)
#   BELFRY_CLUSTER_DNS        a | srv | auto (default auto: `a`, the compose way, unless the
#                             gateway cannot bind one address, then SRV records + distinct ports)
#   BELFRY_CLUSTER_STOP_TIMEOUT  seconds `down` waits after SIGTERM before SIGKILL (default 15)
#   BELFRY_API_KEY, BELFRY_JWT_SECRET: from the environment, else from .env (as compose reads
#   it), else generated once into $BELFRY_CLUSTER_DIR/secrets.env (mode 600).
#   BELFRY_REDIS_PREFIX, BELFRY_LOG_LEVEL, BELFRY_LOG_FORMAT, BELFRY_DRAIN_TIMEOUT,
#   BELFRY_ALLOWED_ORIGINS: passed on exactly as docker-compose.yml does, with its defaults.
#
# Exit codes: 0 ok; 1 failed (up: everything started is stopped again; status: something is not
# running or not ready); 2 usage; 3 status/env: no cluster is up.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${BELFRY_BIN_DIR:-$ROOT/build/bin}
DIR=${BELFRY_CLUSTER_DIR:-$ROOT/.run/cluster}
N_GW=${BELFRY_CLUSTER_GATEWAYS:-3}
N_RT=${BELFRY_CLUSTER_ROUTERS:-2}
DNS_MODE=${BELFRY_CLUSTER_DNS:-auto}
STOP_TIMEOUT=${BELFRY_CLUSTER_STOP_TIMEOUT:-15}
HAPROXY_CFG=$ROOT/deploy/haproxy/haproxy.cfg
PROCS=$DIR/procs # one line per process: name pid executable address
READY_TIMEOUT=20 # seconds for each readiness wait

say() { printf 'cluster: %s\n' "$*" >&2; }
die() {
  say "error: $*"
  exit 1
}

# ---- small helpers --------------------------------------------------------------------------

# wait_for SECONDS DESCRIPTION COMMAND...: polls COMMAND every 0.1 s until it succeeds. Gives up
# at once if the process named in $WATCH (a name in $PROCS) has exited.
wait_for() {
  local secs=$1 what=$2
  shift 2
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    if [ -n "${WATCH:-}" ] && ! proc_alive "$WATCH"; then
      say "$WATCH exited while waiting for $what"
      return 1
    fi
    if ((SECONDS >= deadline)); then
      say "timed out after ${secs}s waiting for $what"
      return 1
    fi
    sleep 0.1
  done
}

http_code() { curl -s -o /dev/null -m 2 -w '%{http_code}' "$1" 2>/dev/null || true; }
ready() { [ "$(http_code "$1")" = 200 ]; }

# free_port ADDR...: a TCP port free on every given address at once.
free_port() {
  python3 - "$@" <<'PY'
import socket, sys
addrs = sys.argv[1:]
for _ in range(100):
    first = socket.socket()
    first.bind((addrs[0], 0))
    port, held, ok = first.getsockname()[1], [first], True
    for a in addrs[1:]:
        s = socket.socket()
        try:
            s.bind((a, port))
            held.append(s)
        except OSError:
            ok = False
            s.close()
            break
    for s in held:
        s.close()
    if ok:
        print(port)
        sys.exit(0)
sys.exit("no port free on all of " + " ".join(addrs))
PY
}

# A free public port: BELFRY_CLUSTER_PORT if set (0 = any), else 8000 if free, else any.
public_port() {
  local want=${BELFRY_CLUSTER_PORT:-8000}
  python3 "$ROOT/scripts/free-port.py" "$want"
}

random_secret() { python3 -c 'import secrets; print(secrets.token_urlsafe(36))'; }

# alive PID EXE: the process exists and still runs EXE (guards against a reused pid).
alive() {
  local pid=$1 exe=$2 cmd
  running "$pid" || return 1
  cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || return 1
  [[ $cmd == *"$exe"* ]]
}

# running PID: the process exists and has not exited (a zombie waiting to be reaped has).
running() {
  local st
  st=$(sed 's/.*) //' 2>/dev/null <"/proc/$1/stat" | cut -d' ' -f1)
  [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# proc_alive NAME: the process started under NAME (this run, so its pid is not reused yet)
# still runs. Not alive(): a command line reads empty for an instant while a process execs.
proc_alive() {
  local name pid exe addr
  while read -r name pid exe addr; do
    [ "$name" = "$1" ] && running "$pid" && return 0
  done <"$PROCS"
  return 1
}

ensure_tools() {
  local missing=()
  command -v haproxy >/dev/null || missing+=(haproxy)
  command -v redis-server >/dev/null || missing+=(redis-server)
  command -v redis-cli >/dev/null || missing+=(redis-tools)
  command -v curl >/dev/null || missing+=(curl)
  command -v python3 >/dev/null || missing+=(python3)
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing ${missing[*]} (apt-get)"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq >/dev/null
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
    die "could not install ${missing[*]}"
}

# Reads KEY=VALUE lines from .env (compose's format) for the keys not already set.
load_dotenv() {
  local file=$ROOT/.env line key val
  [ -f "$file" ] || return 0
  while IFS= read -r line || [ -n "$line" ]; do
    [[ $line =~ ^[[:space:]]*(#|$) ]] && continue
    [[ $line =~ ^[[:space:]]*(export[[:space:]]+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]] || continue
    key=${BASH_REMATCH[2]}
    val=${BASH_REMATCH[3]}
    if [[ $val =~ ^\"(.*)\"$ || $val =~ ^\'(.*)\'$ ]]; then val=${BASH_REMATCH[1]}; fi
    [ -z "${!key+x}" ] && export "$key=$val"
  done <"$file"
}

load_secrets() {
  load_dotenv
  if [ -z "${BELFRY_API_KEY:-}" ] || [ -z "${BELFRY_JWT_SECRET:-}" ]; then
    local f=$DIR/secrets.env
    if [ ! -f "$f" ]; then
      (
        umask 077
        printf 'BELFRY_API_KEY=%s\nBELFRY_JWT_SECRET=%s\n' "$(random_secret)" "$(random_secret)" >"$f"
      )
      say "generated BELFRY_API_KEY and BELFRY_JWT_SECRET into $f (set them or use .env to choose)"
    fi
    [ -z "${BELFRY_API_KEY:-}" ] && BELFRY_API_KEY=$(sed -n 's/^BELFRY_API_KEY=//p' "$f")
    [ -z "${BELFRY_JWT_SECRET:-}" ] && BELFRY_JWT_SECRET=$(sed -n 's/^BELFRY_JWT_SECRET=//p' "$f")
  fi
  [ ${#BELFRY_JWT_SECRET} -ge 32 ] || die "BELFRY_JWT_SECRET must be at least 32 bytes"
  [ -n "$BELFRY_API_KEY" ] || die "BELFRY_API_KEY is empty"
}

# ---- starting processes ---------------------------------------------------------------------

# start NAME EXE ADDRESS ENV... -- COMMAND...: starts COMMAND in its own session with exactly the
# given environment (like a container: nothing leaks in from this shell), logs to logs/NAME.log.
# Its pid is the subshell's, which execs setsid, which execs COMMAND: one process throughout.
start() {
  local name=$1 exe=$2 addr=$3
  shift 3
  local envs=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)
  while [ "$1" != "--" ]; do
    envs+=("$1")
    shift
  done
  shift
  # Not `env -i VAR=... cmd`: that would show the secrets in ps for a moment.
  (
    mapfile -t exported < <(compgen -e)
    export -n "${exported[@]}" 2>/dev/null || true
    export "${envs[@]}"
    exec setsid "$@"
  ) </dev/null >"$DIR/logs/$name.log" 2>&1 &
  local pid=$! i
  echo "$name $pid $exe $addr" >>"$PROCS"
  # Until the child has exec'd, its command line is this script's: wait for that to pass, so
  # that alive() (which checks the command line, against reused pids) means what it says.
  for ((i = 0; i < 100; i++)); do
    alive "$pid" "$exe" || ! running "$pid" && break
    sleep 0.01
  done
}

# The environment of the compose services (docker-compose.yml x-belfry-env and per service).
common_env() {
  printf '%s\n' "BELFRY_REDIS_URL=redis://127.0.0.1:$REDIS_PORT" \
    "BELFRY_REDIS_PREFIX=${BELFRY_REDIS_PREFIX:-belfry:}" \
    "BELFRY_LOG_LEVEL=${BELFRY_LOG_LEVEL:-info}" \
    "BELFRY_LOG_FORMAT=${BELFRY_LOG_FORMAT:-text}"
}

fail_up() {
  say "error: $*"
  if [ -f "$PROCS" ]; then
    say "logs in $DIR/logs; last lines:"
    for f in "$DIR"/logs/*.log; do
      [ -s "$f" ] || continue
      printf '  --- %s\n' "$(basename "$f")" >&2
      tail -n 5 "$f" | sed 's/^/  /' >&2
    done
    stop_all
  fi
  exit 1
}

# Does the gateway honour the address in BELFRY_LISTEN? It does since it listens itself; one that
# listened through libwebsockets 4.1 bound the wildcard, and all gateways would share one port.
gateway_binds_address() {
  local addr=$1 port
  port=$(free_port "$addr" 127.0.0.1)
  env -i BELFRY_LISTEN="$addr:$port" BELFRY_REDIS_URL=redis://127.0.0.1:1 BELFRY_LOG_LEVEL=error \
    "$BIN/belfry-gateway" >/dev/null 2>&1 &
  local pid=$! ok=1
  if wait_for 5 "probe gateway" curl -sf -m 1 "http://$addr:$port/healthz"; then
    curl -s -m 1 -o /dev/null "http://127.0.0.1:$port/healthz" || ok=0
  fi
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  [ "$ok" = 0 ]
}

cmd_up() {
  [ -x "$BIN/belfry-gateway" ] && [ -x "$BIN/belfry-router" ] ||
    die "no binaries in $BIN: run 'make build' first (or set BELFRY_BIN_DIR)"
  if [ -f "$PROCS" ] && any_alive; then
    die "a cluster is already up in $DIR: scripts/cluster.sh down first"
  fi
  ensure_tools
  mkdir -p "$DIR"
  rm -rf "$DIR/logs" "$DIR/redis" "$PROCS" "$DIR/cluster.env"
  mkdir -p "$DIR/logs" "$DIR/redis"
  : >"$PROCS"
  load_secrets
  trap 'fail_up "interrupted"' INT TERM

  # Containers get their own IPs; here each node gets its own loopback address 127.X.Y.n.
  local net="127.$((RANDOM % 200 + 20)).$((RANDOM % 250 + 1))" i
  local gw_addrs=() rt_addrs=()
  for ((i = 1; i <= N_GW; i++)); do gw_addrs+=("$net.$i"); done
  for ((i = 1; i <= N_RT; i++)); do rt_addrs+=("$net.$((100 + i))"); done

  if [ "$DNS_MODE" = auto ]; then
    if gateway_binds_address "${gw_addrs[0]}"; then DNS_MODE=a; else
      DNS_MODE=srv
      say "note: belfry-gateway binds the wildcard address whatever BELFRY_LISTEN's host is;"
      say "      gateways get distinct ports on 127.0.0.1, found through SRV records instead"
    fi
  fi
  case $DNS_MODE in a | srv) ;; *) die "BELFRY_CLUSTER_DNS must be a, srv or auto" ;; esac

  REDIS_PORT=$(free_port 127.0.0.1)
  local rt_port gw_port lb_port stats_port
  rt_port=$(free_port "${rt_addrs[@]}")
  lb_port=$(public_port)
  stats_port=$(free_port 127.0.0.1)
  local zone=$DIR/dns.zone gw_listen=() gw_lb_addr
  : >"$zone"
  for a in "${rt_addrs[@]}"; do echo "router A $a" >>"$zone"; done
  if [ "$DNS_MODE" = a ]; then
    gw_port=$(free_port "${gw_addrs[@]}")
    for a in "${gw_addrs[@]}"; do
      gw_listen+=("$a:$gw_port")
      echo "gateway A $a" >>"$zone"
    done
    gw_lb_addr="gateway:$gw_port"
  else
    for ((i = 1; i <= N_GW; i++)); do
      gw_port=$(free_port 127.0.0.1)
      gw_listen+=("127.0.0.1:$gw_port")
      echo "_gateway._tcp.belfry.local SRV $gw_port gw-$i.belfry.local" >>"$zone"
      echo "gw-$i.belfry.local A 127.0.0.1" >>"$zone"
    done
    gw_lb_addr=_gateway._tcp.belfry.local
  fi

  # redis: as in compose, no persistence (Belfry keeps nothing that must survive a restart)
  start redis redis-server "127.0.0.1:$REDIS_PORT" -- \
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
    --dir "$DIR/redis"
  WATCH=redis wait_for "$READY_TIMEOUT" "redis" redis-cli -p "$REDIS_PORT" ping || fail_up "redis did not start"

  start dns dnsstub.py "127.0.0.1" -- \
    python3 "$ROOT/deploy/local/dnsstub.py" --zone "$zone" --port-file "$DIR/dns.port"
  WATCH=dns wait_for 10 "dns stub" test -s "$DIR/dns.port" || fail_up "the DNS stub did not start"
  local dns_port
  dns_port=$(cat "$DIR/dns.port")

  mapfile -t common < <(common_env)
  for ((i = 1; i <= N_RT; i++)); do
    start "router-$i" belfry-router "${rt_addrs[i - 1]}:$rt_port" "${common[@]}" \
      "BELFRY_LISTEN=${rt_addrs[i - 1]}:$rt_port" "BELFRY_API_KEY=$BELFRY_API_KEY" -- \
      "$BIN/belfry-router"
  done
  for ((i = 1; i <= N_GW; i++)); do
    start "gateway-$i" belfry-gateway "${gw_listen[i - 1]}" "${common[@]}" \
      "BELFRY_LISTEN=${gw_listen[i - 1]}" "BELFRY_JWT_SECRET=$BELFRY_JWT_SECRET" \
      "BELFRY_DRAIN_TIMEOUT=${BELFRY_DRAIN_TIMEOUT:-10}" \
      "BELFRY_ALLOWED_ORIGINS=${BELFRY_ALLOWED_ORIGINS:-*}" -- \
      "$BIN/belfry-gateway"
  done
  local name pid exe addr
  while read -r name pid exe addr; do
    case $exe in belfry-*) ;; *) continue ;; esac
    WATCH=$name wait_for "$READY_TIMEOUT" "$name /readyz" ready "http://$addr/readyz" ||
      fail_up "$name is not ready"
  done <"$PROCS"

  start haproxy haproxy "127.0.0.1:$lb_port" \
    "LB_BIND=127.0.0.1:$lb_port" "LB_STATS_BIND=127.0.0.1:$stats_port" \
    "LB_DNS=127.0.0.1:$dns_port" "LB_GATEWAY_ADDR=$gw_lb_addr" \
    "LB_ROUTER_ADDR=router:$rt_port" "LB_GATEWAY_SLOTS=20" "LB_ROUTER_SLOTS=10" -- \
    haproxy -db -f "$HAPROXY_CFG"
  STATS_URL="http://127.0.0.1:$stats_port/stats;csv"
  WATCH=haproxy wait_for "$READY_TIMEOUT" "HAProxy to see $N_GW gateways and $N_RT routers UP" \
    lb_sees "$N_GW" "$N_RT" || fail_up "HAProxy does not see every server UP"

  {
    echo "BELFRY_CLUSTER_URL='http://127.0.0.1:$lb_port'"
    echo "BELFRY_CLUSTER_WS='ws://127.0.0.1:$lb_port'"
    echo "BELFRY_CLUSTER_STATS='$STATS_URL'"
    echo "BELFRY_CLUSTER_LB_HEALTH='http://127.0.0.1:$stats_port/healthz'"
    echo "BELFRY_CLUSTER_REDIS_PORT='$REDIS_PORT'"
    echo "BELFRY_CLUSTER_REDIS_PREFIX='${BELFRY_REDIS_PREFIX:-belfry:}'"
    echo "BELFRY_CLUSTER_DNS='$DNS_MODE'"
    echo "BELFRY_CLUSTER_DIR='$DIR'"
  } >"$DIR/cluster.env"
  trap - INT TERM
  cat <<MSG

  Belfry cluster is up: $N_RT routers, $N_GW gateways, redis, HAProxy ($DNS_MODE records).

  WebSocket     ws://127.0.0.1:$lb_port/ws/{channel}
  HTTP API      http://127.0.0.1:$lb_port/broadcast/{channel}   (Authorization: Bearer \$BELFRY_API_KEY)
  Demo page     http://127.0.0.1:$lb_port/
  HAProxy stats http://127.0.0.1:$stats_port/stats
  State, logs   $DIR

  scripts/cluster.sh status    scripts/cluster.sh down

MSG
}

# lb_sees NGW NRT: HAProxy's stats show at least that many gateways and routers UP.
lb_sees() {
  local csv
  csv=$(curl -sf -m 2 "$STATS_URL") || return 1
  [ "$(lb_up gateways <<<"$csv")" -ge "$1" ] && [ "$(lb_up routers <<<"$csv")" -ge "$2" ]
}
lb_up() { awk -F, -v b="$1" '$1 == b && $2 != "BACKEND" && $18 ~ /^UP/ { n++ } END { print n + 0 }'; }

# ---- stopping -------------------------------------------------------------------------------

any_alive() {
  local name pid exe addr
  while read -r name pid exe addr; do
    alive "$pid" "$exe" && return 0
  done <"$PROCS"
  return 1
}

# stop_group NAME-PATTERN: SIGTERM to the matching processes, SIGKILL after STOP_TIMEOUT.
stop_group() {
  local pattern=$1 name pid exe addr pids=() exes=() names=()
  while read -r name pid exe addr; do
    # shellcheck disable=SC2053 # $pattern is a glob on purpose
    [[ $name == $pattern ]] || continue
    if alive "$pid" "$exe"; then
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid")
      exes+=("$exe")
      names+=("$name")
    fi
  done <"$PROCS"
  local deadline=$((SECONDS + STOP_TIMEOUT)) k left
  while :; do
    left=0
    for k in "${!pids[@]}"; do alive "${pids[k]}" "${exes[k]}" && left=1; done
    [ "$left" = 0 ] && break
    if ((SECONDS >= deadline)); then
      for k in "${!pids[@]}"; do
        if alive "${pids[k]}" "${exes[k]}"; then
          say "${names[k]} (pid ${pids[k]}) ignored SIGTERM for ${STOP_TIMEOUT}s: SIGKILL"
          kill -KILL "${pids[k]}" 2>/dev/null || true
        fi
      done
      break
    fi
    sleep 0.1
  done
}

# The load balancer first, then the nodes (gateways drain), then DNS and redis.
stop_all() {
  stop_group 'haproxy'
  stop_group 'gateway-*'
  stop_group 'router-*'
  stop_group 'dns'
  stop_group 'redis'
  rm -f "$PROCS" "$DIR/cluster.env" "$DIR/dns.port"
}

cmd_down() {
  if [ ! -f "$PROCS" ]; then
    say "no cluster in $DIR"
    return 0
  fi
  stop_all
  say "stopped (logs kept in $DIR/logs)"
}

# ---- status ---------------------------------------------------------------------------------

cmd_status() {
  [ -f "$PROCS" ] || {
    say "no cluster in $DIR"
    exit 3
  }
  # shellcheck disable=SC1091
  [ -f "$DIR/cluster.env" ] && . "$DIR/cluster.env"
  local name pid exe addr state ready bad=0
  printf '%-11s %-8s %-8s %-24s %s\n' NAME PID STATE ADDRESS READY
  while read -r name pid exe addr; do
    state=running
    alive "$pid" "$exe" || state=exited
    case $exe in
    belfry-*) ready=$(http_code "http://$addr/readyz") ;;
    redis-server) ready=$(redis-cli -h "${addr%:*}" -p "${addr##*:}" ping 2>/dev/null || echo -) ;;
    haproxy)
      local csv
      csv=$(curl -sf -m 2 "${BELFRY_CLUSTER_STATS:-http://invalid}" 2>/dev/null || true)
      ready="$(http_code "${BELFRY_CLUSTER_LB_HEALTH:-http://invalid}") (UP: $(lb_up gateways \
        <<<"$csv") gateways, $(lb_up routers <<<"$csv") routers)"
      ;;
    *) ready=- ;;
    esac
    printf '%-11s %-8s %-8s %-24s %s\n' "$name" "$pid" "$state" "$addr" "$ready"
    [ "$state" = running ] || bad=1
    case $exe in
    belfry-*) [ "$ready" = 200 ] || bad=1 ;;
    haproxy) [[ $ready == 200* ]] || bad=1 ;;
    esac
  done <"$PROCS"
  [ -n "${BELFRY_CLUSTER_URL:-}" ] && printf '\npublic: %s (ws: %s)\n' "$BELFRY_CLUSTER_URL" \
    "$BELFRY_CLUSTER_WS"
  return "$bad"
}

cmd_env() {
  [ -f "$DIR/cluster.env" ] || {
    say "no cluster in $DIR"
    exit 3
  }
  cat "$DIR/cluster.env"
}

case ${1:-} in
up) cmd_up ;;
down) cmd_down ;;
status) cmd_status ;;
env) cmd_env ;;
*)
  echo "usage: scripts/cluster.sh up|down|status|env   (see the top of this file)" >&2
  exit 2
  ;;
esac

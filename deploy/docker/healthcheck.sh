#!/bin/bash
# The image's HEALTHCHECK: GET /healthz (or the path in $1) on the local belfry-gateway or
# belfry-router, without curl — bash's /dev/tcp is enough and keeps the image small.
#
# The port comes from BELFRY_LISTEN if set (compose and Kubernetes set it), else from a
# --listen flag of the running belfry process, else from the binary's default (gateway 8080,
# router 8090). A wildcard host (0.0.0.0, empty) is checked on 127.0.0.1.
# Exit 0: HTTP 200 within 3 s; 1 otherwise.
set -u
path=${1:-/healthz}

listen=${BELFRY_LISTEN:-}
if [ -z "$listen" ]; then
  for cmdline in /proc/[0-9]*/cmdline; do
    mapfile -d '' -t argv <"$cmdline" 2>/dev/null || continue
    case ${argv[0]:-} in
    *belfry-gateway) listen=0.0.0.0:8080 ;;
    *belfry-router) listen=0.0.0.0:8090 ;;
    *) continue ;;
    esac
    for ((i = 1; i < ${#argv[@]}; i++)); do
      case ${argv[i]} in
      --listen=*) listen=${argv[i]#--listen=} ;;
      --listen) listen=${argv[i + 1]:-$listen} ;;
      esac
    done
    break
  done
fi
if [ -z "$listen" ]; then
  echo "healthcheck: no BELFRY_LISTEN and no belfry process found" >&2
  exit 1
fi
host=${listen%:*}
port=${listen##*:}
case $host in "" | 0.0.0.0 | "*") host=127.0.0.1 ;; esac

status=$(
  timeout 3 bash -c '
    exec 3<>"/dev/tcp/$1/$2" || exit 1
    printf "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" "$3" "$1" >&3
    IFS= read -r line <&3 && printf "%s" "$line"
  ' healthcheck "$host" "$port" "$path" 2>/dev/null
)
case $status in
"HTTP/1."?" 200 "*) exit 0 ;;
*)
  echo "healthcheck: GET http://$host:$port$path: ${status:-no answer}" >&2
  exit 1
  ;;
esac

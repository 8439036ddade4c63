#!/bin/sh
# The image's entrypoint: the first argument picks the program, the rest are its flags.
#   gateway [FLAGS]   belfry-gateway      router [FLAGS]   belfry-router
#   ctl ARGS          belfryctl           anything else    run as given (e.g. sh)
# exec, so that the daemon is PID 1's replacement and receives SIGTERM itself.
set -e
cmd=${1:-gateway}
[ $# -gt 0 ] && shift
case $cmd in
gateway | router) exec "/usr/local/bin/belfry-$cmd" "$@" ;;
ctl | belfryctl) exec /usr/local/bin/belfryctl "$@" ;;
-*)
  echo "belfry-entrypoint: name the program first: gateway|router|ctl $cmd ..." >&2
  exit 2
  ;;
*) exec "$cmd" "$@" ;;
esac

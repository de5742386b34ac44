#!/usr/bin/env bash
# Install and start a Redis server on 127.0.0.1:6379 for the Celery broker tests and the load
# script. Idempotent: a server that already answers PING is left alone. Needs root for apt-get.
# No systemd here: the server runs daemonized. Log: $REDIS_LOG (default /var/log/grader-redis.log).
set -euo pipefail
port=${REDIS_PORT:-6379}
log=${REDIS_LOG:-/var/log/grader-redis.log}
wait_s=${REDIS_WAIT_S:-30}

die() { echo "install-redis: $*" >&2; exit 1; }
ping_ok() { command -v redis-cli >/dev/null && [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ]; }

if ping_ok; then
    echo "install-redis: redis up on 127.0.0.1:$port ($(redis-server --version | awk '{print $3}'))"
    exit 0
fi
if ! command -v redis-server >/dev/null; then
    [ "$(id -u)" = 0 ] || die "redis-server is not installed and installing it needs root; run: sudo $0"
    echo "install-redis: installing redis-server"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || die "apt-get update failed"
    apt-get install -y -qq --no-install-recommends redis-server >/dev/null \
        || die "apt-get install redis-server failed"
fi
mkdir -p "$(dirname "$log")"
# No persistence: the broker's queue lives as long as the server; tests start from empty.
redis-server --bind 127.0.0.1 --port "$port" --daemonize yes --logfile "$log" \
    --save '' --appendonly no --dir /tmp || die "redis-server did not start (see $log)"
for _ in $(seq "$wait_s"); do
    if ping_ok; then
        echo "install-redis: redis up on 127.0.0.1:$port"
        exit 0
    fi
    sleep 1
done
die "redis-server did not answer PING within ${wait_s}s (see $log)"

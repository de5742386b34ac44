#!/usr/bin/env bash
# Install and start a Redis server on 127.0.0.1:6379 for the Celery broker tests and the load
# script. Idempotent: a server that already answers PING is used as it is, and a port taken by
# something that does not answer as Redis is an error, never a reason to start a second server.
# Needs root for apt-get. No systemd here: the server runs daemonized, started the way this
# machine's own is (no persistence: the broker's queues live as long as the server).
# Log: $REDIS_LOG (default /var/log/redis/ci.log).
set -euo pipefail
port=${REDIS_PORT:-6379}
log=${REDIS_LOG:-/var/log/redis/ci.log}
dir=${REDIS_DIR:-/var/lib/redis}
wait_s=${REDIS_WAIT_S:-30}

die() { echo "install-redis: $*" >&2; exit 1; }
# PING in Redis' own protocol over bash's /dev/tcp: no redis-cli needed to find a running server.
ping_ok() {
    timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port && printf 'PING\r\n' >&3 && head -c 5 <&3" \
        2>/dev/null | grep -q '^+PONG'
}
port_taken() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" 2>/dev/null; }

if ping_ok; then
    echo "install-redis: redis up on 127.0.0.1:$port (using the running server)"
    exit 0
fi
port_taken && die "127.0.0.1:$port is taken by something that does not answer PING; not starting a second server"
if ! command -v redis-server >/dev/null; then
    [ "$(id -u)" = 0 ] || die "redis-server is not installed and installing it needs root; run: sudo $0"
    echo "install-redis: installing redis-server"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || die "apt-get update failed"
    apt-get install -y -qq --no-install-recommends redis-server >/dev/null \
        || die "apt-get install redis-server failed"
fi
mkdir -p "$(dirname "$log")" "$dir"
redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$port" --save '' --appendonly no \
    --dir "$dir" --logfile "$log" || die "redis-server did not start (see $log)"
for _ in $(seq "$wait_s"); do
    if ping_ok; then
        echo "install-redis: redis started on 127.0.0.1:$port"
        exit 0
    fi
    sleep 1
done
die "redis-server did not answer PING within ${wait_s}s (see $log)"

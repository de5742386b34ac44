#!/usr/bin/env bash
# The servers the tests and the load scripts use, on this machine: PostgreSQL (the production
# store), Redis and RabbitMQ (the Celery brokers), each on 127.0.0.1 at its usual port.
#
# Each is checked to answer in its own protocol. One that does not and is installed is started
# with this machine's own command and waited for; a port taken by something that does not answer
# as the service is an error, never a reason to start a second server. Idempotent: with all three
# up it only says so. Redis is installed when missing (install-redis.sh); PostgreSQL and RabbitMQ
# are not: a machine without them fails here, naming what is missing, before any test can skip.
#
# What the tests then use is found by URL: GRADER_TEST_PG_URL (default
# postgresql+psycopg://root@127.0.0.1:5432/test) and GRADER_TEST_AMQP_URL (default
# amqp://guest:guest@127.0.0.1:5672//); grader/ops/loopback.py reads both.
set -euo pipefail
cd "$(dirname "$0")/.."
pg_port=${PG_PORT:-5432}
amqp_port=${AMQP_PORT:-5672}
wait_s=${SERVICES_WAIT_S:-120}

die() { echo "services: $*" >&2; exit 1; }
port_taken() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

# pg_isready where the client tools are; else PostgreSQL's SSLRequest, answered 'S' or 'N'.
pg_answers() {
    if command -v pg_isready >/dev/null; then
        pg_isready -q -h 127.0.0.1 -p "$pg_port"
        return
    fi
    timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$pg_port \
        && printf '\x00\x00\x00\x08\x04\xd2\x16\x2f' >&3 && head -c 1 <&3" 2>/dev/null | grep -q '[SN]'
}
# AMQP's protocol header; a broker answers with a Connection.Start frame (frame type 1).
amqp_answers() {
    timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$amqp_port && printf 'AMQP\x00\x00\x09\x01' >&3 \
        && head -c 1 <&3" 2>/dev/null | od -An -tx1 | grep -q 01
}

pg_start() {
    command -v pg_ctlcluster >/dev/null \
        || die "PostgreSQL is not installed (no pg_ctlcluster): install postgresql, or point GRADER_TEST_PG_URL at one"
    local version
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    [ -n "$version" ] || die "PostgreSQL has no cluster under /etc/postgresql"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start
}

rabbit_start() {
    command -v rabbitmq-server >/dev/null \
        || die "RabbitMQ is not installed (no rabbitmq-server): install rabbitmq-server"
    rabbitmq-server -detached
}

# ensure NAME PORT CHECK START: NAME answers on PORT (CHECK), started by START if need be.
ensure() {
    local name=$1 port=$2 check=$3 start=$4
    if "$check"; then
        echo "services: $name answers on 127.0.0.1:$port"
        return
    fi
    port_taken "$port" \
        && die "127.0.0.1:$port is taken by something that does not answer as $name; not starting a second"
    echo "services: $name does not answer on 127.0.0.1:$port; starting it"
    "$start" || die "$name did not start"
    for _ in $(seq "$wait_s"); do
        if "$check"; then
            echo "services: $name started, answers on 127.0.0.1:$port"
            return
        fi
        sleep 1
    done
    die "$name did not answer on 127.0.0.1:$port within ${wait_s}s"
}

ensure PostgreSQL "$pg_port" pg_answers pg_start
scripts/install-redis.sh
ensure RabbitMQ "$amqp_port" amqp_answers rabbit_start

#!/usr/bin/env bash
# Install and start a Docker engine for the docker sandbox backend. Idempotent: an engine that
# already answers `docker info` is left alone. Needs root (apt-get, dockerd).
#
# - packages: docker.io (engine, containerd, runc, docker-init via tini), debootstrap (the offline
#   base image, scripts/make-base-image.sh), iptables (the engine's default bridge).
# - storage: overlay2 when the host can mount overlayfs (vfs copies the multi-GB runtime per
#   container), else fuse-overlayfs, else vfs as a last resort.
# - networking: sandboxes run with network_mode="none"; when iptables cannot work here the engine
#   starts without a bridge (builds run with network "none" anyway: they install offline).
# Log: $DOCKERD_LOG (default /var/log/grader-dockerd.log).
set -euo pipefail
log=${DOCKERD_LOG:-/var/log/grader-dockerd.log}
wait_s=${DOCKERD_WAIT_S:-60}

die() { echo "install-docker: $*" >&2; exit 1; }
info_ok() { timeout 10 docker info >/dev/null 2>&1; }

if info_ok; then
    echo "install-docker: engine up ($(docker info --format '{{.ServerVersion}} {{.Driver}}'))"
    exit 0
fi
[ "$(id -u)" = 0 ] || die "the engine is not running and starting it needs root; run: sudo $0"

need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v iptables >/dev/null || need+=(iptables)
[ -e /usr/bin/docker-init ] || [ -e /usr/libexec/docker/docker-init ] || need+=(tini)
if [ ${#need[@]} -gt 0 ]; then
    echo "install-docker: installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || die "apt-get update failed"
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null \
        || die "apt-get install ${need[*]} failed"
fi
# The Debian client may be shadowed by a newer one in /usr/local/bin; either talks to this engine.
command -v docker >/dev/null || die "no docker client on PATH after installing docker.io"

storage_driver() {
    local probe
    probe=$(mktemp -d)
    mkdir -p "$probe"/{l,u,w,m}
    if mount -t overlay overlay -o "lowerdir=$probe/l,upperdir=$probe/u,workdir=$probe/w" \
        "$probe/m" 2>/dev/null; then
        umount "$probe/m"; rm -rf "$probe"; echo overlay2; return
    fi
    rm -rf "$probe"
    if command -v fuse-overlayfs >/dev/null; then echo fuse-overlayfs; else echo vfs; fi
}

flags=(--storage-driver "$(storage_driver)")
if ! iptables -L -n >/dev/null 2>&1; then
    flags+=(--iptables=false --ip6tables=false --bridge=none)
fi
echo "install-docker: starting dockerd ${flags[*]} (log: $log)"
mkdir -p "$(dirname "$log")"
nohup dockerd "${flags[@]}" >>"$log" 2>&1 &
pid=$!

for _ in $(seq "$wait_s"); do
    info_ok && { echo "install-docker: engine up (pid $pid, $(docker info --format '{{.Driver}}'))"; exit 0; }
    kill -0 "$pid" 2>/dev/null || die "dockerd exited: $(grep -iE 'level=(fatal|error)' "$log" | tail -1)"
    sleep 1
done
die "dockerd did not answer within ${wait_s}s; see $log"

#!/usr/bin/env bash
# Make the sandbox base image offline: debootstrap a minimal Debian bookworm (python3 3.11, which
# matches the cp311 wheelhouse) and `docker import` it. No registry is needed, only a Debian
# mirror. Idempotent: skipped when the image exists and was made by this same recipe.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
image=${GRADER_BASE_IMAGE:-grader-base:bookworm}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
# python3-venv: the runtime venv; libgomp1: OpenMP for torch's CPU kernels.
packages=python3,python3-venv,libgomp1
recipe=$(cat "$0" | sha256sum | cut -c1-16)

die() { echo "make-base-image: $*" >&2; exit 1; }
command -v docker >/dev/null && docker info >/dev/null 2>&1 \
    || die "no Docker engine; run scripts/install-docker.sh"
have=$(docker image inspect --format '{{index .Config.Labels "org.grader.recipe"}}' "$image" \
    2>/dev/null || true)
[ "$have" = "$recipe" ] && { echo "make-base-image: $image up to date"; exit 0; }
command -v debootstrap >/dev/null || die "debootstrap missing; run scripts/install-docker.sh"
[ "$(id -u)" = 0 ] || die "debootstrap needs root; run: sudo $0"

root=$(mktemp -d /var/tmp/grader-base.XXXXXX)
trap 'rm -rf "$root"' EXIT
echo "make-base-image: debootstrap bookworm ($packages) from $mirror"
debootstrap --variant=minbase --include="$packages" bookworm "$root" "$mirror" \
    >"$root.log" 2>&1 || die "debootstrap failed: $(tail -1 "$root.log") (full log: $root.log)"
rm -f "$root.log"
# Trim what a sandbox never needs: package caches, docs, manuals, locales.
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* \
    "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/*
find "$root"/usr/share/locale -mindepth 1 -maxdepth 1 ! -name 'locale.alias' -exec rm -rf {} +

tar -C "$root" --numeric-owner -c . | docker import \
    --change "LABEL org.grader.recipe=$recipe" \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["/usr/bin/python3"]' \
    - "$image" >/dev/null
echo "make-base-image: $image ($(docker image inspect --format '{{.Size}}' "$image") bytes)"

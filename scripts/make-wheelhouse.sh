#!/usr/bin/env bash
# Download the pinned sandbox runtime (torch, torchvision, numpy, pillow) as wheels, once.
# The wheelhouse feeds both the process sandbox's runtime and the Docker images, so air-gapped
# hosts can copy it in. Idempotent: a complete wheelhouse is left as it is.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
dest=${WHEELHOUSE:-$here/.wheelhouse}
reqs=$here/sandbox/container/dockerfiles/runtime.txt
stamp=$dest/.complete-$(sha256sum "$reqs" | cut -c1-16)
[ -f "$stamp" ] && { echo "wheelhouse: up to date ($dest)"; exit 0; }
mkdir -p "$dest"
# Wheels for this host's Python (3.11, x86_64 Linux), which the images' Debian bookworm matches.
python3 -m pip download --quiet --disable-pip-version-check --only-binary=:all: \
    -d "$dest" -r "$reqs" 2> >(grep -v "is neither a file nor a directory" >&2)
touch "$stamp"
echo "wheelhouse: $(du -sh "$dest" | cut -f1) in $dest"

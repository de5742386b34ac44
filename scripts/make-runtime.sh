#!/usr/bin/env bash
# Build the process sandbox's Python runtime (.runtime/) from the wheelhouse, offline. Idempotent.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
runtime=${GRADER_RUNTIME:-$here/.runtime}
wheels=${WHEELHOUSE:-$here/.wheelhouse}
reqs=$here/sandbox/container/dockerfiles/runtime.txt
stamp=$runtime/.complete-$(sha256sum "$reqs" | cut -c1-16)
[ -f "$stamp" ] && { echo "runtime: up to date ($runtime)"; exit 0; }
"$here/scripts/make-wheelhouse.sh"
python3 -m venv --clear "$runtime"
"$runtime/bin/pip" install --quiet --disable-pip-version-check --no-index \
    --find-links "$wheels" -r "$reqs"
"$runtime/bin/python" -c "import torch, torchvision; print('runtime: torch', torch.__version__, 'torchvision', torchvision.__version__)"
touch "$stamp"

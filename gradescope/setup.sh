#!/usr/bin/env bash
# Gradescope runs this once, as root and with network, when it builds the autograder image.
# The autograder zip holds setup.sh, run_autograder, `question` (the item id) and torchgrader/
# (this repository); Gradescope unpacks it into /autograder/source.
set -euo pipefail
repo=${GRADER_GS_REPO:-/autograder/source/torchgrader}
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends python3 python3-venv python3-pip make ca-certificates
cd "$repo"
# The grader's venv, the sandbox runtime (torch + torchvision) and the stand-in weights cache.
make setup
.venv/bin/grader doctor

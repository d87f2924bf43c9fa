#!/usr/bin/env bash
# Writes every Python lock of the project from its inputs (`make lock`), with uv's resolver and a hash for
# every file of every pinned version, so pip installs them with --require-hashes:
# - requirements/lock.txt: pyproject.toml's dependencies and extras web, devtools and test, and
#   requirements/lock.in (the trainer extra but torch, the test server's pin, uv itself), for CPython
#   3.11-3.13 in one universal file. make venv, .ci/run and the workflows install it; requirements/lint.txt
#   is its linters alone, for ci.yml's lint job.
# - services/{cartridge,web,trainer}/requirements.txt: what each image installs (CPython 3.11, the images'
#   base), from requirements.in beside each, constrained to requirements/lock.txt so an image runs exactly
#   the versions the tests ran. The actor's and the arena's images install the shared library's file.
# PyTorch is pinned by itself in services/trainer/torch.txt (see there).
# UPGRADE=1 moves every pin to the newest version the inputs allow; otherwise pins only move when an input
# asks for it.
set -euo pipefail
cd "$(dirname "$0")/.."
uv=${UV:-.venv/bin/uv}
upgrade=()
[ "${UPGRADE:-0}" = 1 ] && upgrade=(--upgrade)
common=(--generate-hashes --quiet "${upgrade[@]}")
"$uv" pip compile pyproject.toml requirements/lock.in --extra web --extra devtools --extra test \
  --universal --python-version 3.11 "${common[@]}" -o requirements/lock.txt
"$uv" pip compile requirements/lint.in --constraint requirements/lock.txt \
  --universal --python-version 3.11 "${common[@]}" -o requirements/lint.txt
for image in cartridge web trainer; do
  "$uv" pip compile "services/$image/requirements.in" --constraint requirements/lock.txt \
    --universal --python-version 3.11 "${common[@]}" -o "services/$image/requirements.txt"
done

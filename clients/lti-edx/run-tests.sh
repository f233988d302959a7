#!/usr/bin/env bash
# Checks vigil's LTI tool side against Open edX's platform implementation
# (PyPI lti-consumer-xblock) with the real vigil binary.
#   VIGIL_BIN  path of the server binary (default: ../../target/debug/vigil from this folder)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
export VIGIL_BIN="${VIGIL_BIN:-$here/../../target/debug/vigil}"
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
stamp=.venv/.requirements.sha256
want="$(sha256sum requirements.txt | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
  echo "$want" > "$stamp"
fi
exec .venv/bin/python -m pytest "$@"

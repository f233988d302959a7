#!/usr/bin/env bash
# Checks vigil's LTI tool side against Open edX's platform implementation
# (PyPI lti-consumer-xblock) with the real vigil binary.
#   VIGIL_BIN  path of the server binary (default: ../../target/debug/vigil from this folder)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
export VIGIL_BIN="${VIGIL_BIN:-$here/../../target/debug/vigil}"
"$here/../../scripts/python-venv" "$here"
exec .venv/bin/python -m pytest "$@"

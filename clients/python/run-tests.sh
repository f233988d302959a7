#!/usr/bin/env bash
# Run the Python client's test suite against the real vigil binary.
#   VIGIL_BIN  path of the server binary (default: ../../target/debug/vigil from this folder)
#   extra arguments go to pytest
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
export VIGIL_BIN="${VIGIL_BIN:-$here/../../target/debug/vigil}"
if [ ! -x "$VIGIL_BIN" ]; then
  echo "run-tests.sh: no vigil binary at $VIGIL_BIN (cargo build -p vigil, or set VIGIL_BIN)" >&2
  exit 1
fi
"$here/../../scripts/python-venv" "$here"
set +e
.venv/bin/python -m pytest "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "run-tests.sh: pytest collected no tests" >&2
  exit 1
fi
exit "$rc"

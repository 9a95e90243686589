#!/usr/bin/env bash
# The Python package's tests, as a user gets the package: pip builds it from python/ (libpanoptes
# with CMake in build-python/, PIC, no sanitizers, the CLI beside it) into a fresh virtual
# environment that sees Debian's numpy and pytest (--system-site-packages; nothing from PyPI), then
# pytest runs python/tests against the installed copy. Called by scripts/test.sh after ctest.
#
#   python/tests/run.sh [pytest arguments...]
# Environment: PANOPTES_CUDA (default OFF here: the tests run on the cpu backend), PANOPTES_BUILD_DIR,
# PANOPTES_PY_PARITY_FRAMES (frames compared with `panoptes run`, default 60; 0 = the whole sample).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PY=/usr/bin/python3
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

"$PY" -m venv --system-site-packages "$TMP/venv"
echo "python: building and installing the panoptes package into a temporary venv"
PANOPTES_CUDA="${PANOPTES_CUDA:-OFF}" CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}" \
    "$TMP/venv/bin/pip" install --no-build-isolation --no-deps --no-index --disable-pip-version-check -q \
    "$REPO/python" >"$TMP/pip.log" 2>&1 || { tail -50 "$TMP/pip.log"; echo "python: pip install failed"; exit 1; }
# from a folder outside the checkout, so that `import panoptes` is the installed package
cd "$TMP"
"$TMP/venv/bin/python" -c 'import panoptes, sys; print("python: testing", panoptes.__file__, "panoptes", panoptes.__version__)'
export PANOPTES_LOG="${PANOPTES_LOG:-warn}" PANOPTES_HOME="$REPO"
"$TMP/venv/bin/python" -m pytest -q -p no:cacheprovider "$REPO/python/tests" "$@"

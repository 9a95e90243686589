#!/usr/bin/env bash
# Under CI (CI=true) a missing reference peer fails the comparison tests instead of skipping them
# (issue #16, item 10): a CI run in which the TF.js / ONNX Runtime comparisons silently skipped
# would pass having checked nothing. `node` is hidden by running the tests with an empty PATH
# (they look for it with `node --version`); each must skip (77) without CI and fail (1) with it.
set -u
BUILD="${PANOPTES_BUILD:?run through ctest}"
fail=0
for t in test-tfjs-ops test-onnx-ort test-reid-ort test-nanodet-tfjs; do
    bin="$BUILD/$t"
    [ -x "$bin" ] || { echo "$t not built"; fail=1; continue; }
    env -u CI PATH=/nonexistent "$bin" >/dev/null 2>&1; plain=$?
    env CI=true PATH=/nonexistent "$bin" >"/tmp/ci-peers-$$.log" 2>&1; ci=$?
    echo "$t: without CI rc $plain (want 77), with CI=true rc $ci (want 1)"
    if [ "$plain" != 77 ] || [ "$ci" != 1 ]; then
        fail=1
        cat "/tmp/ci-peers-$$.log"
    elif ! grep -q "CI=true, so a missing peer fails" "/tmp/ci-peers-$$.log"; then
        echo "$t: the failure does not say why"; fail=1
    fi
done
rm -f "/tmp/ci-peers-$$.log"
exit $fail

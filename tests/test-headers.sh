#!/usr/bin/env bash
# Every public header (include/panoptes/*.h) compiles on its own as C11 and as C++17, with
# warnings as errors, and declares nothing outside the pan_/PAN_ namespace that a user could
# trip over. The library's surface is these headers and nothing more.
set -u
cd "$(dirname "${BASH_SOURCE[0]}")/.."
command -v g++ >/dev/null || { echo "skipped: no g++"; exit 77; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fail=0; n=0
for h in include/panoptes/*.h; do
    name=$(basename "$h")
    printf '#include "panoptes/%s"\n#include "panoptes/%s"\nint main(void) { return 0; }\n' "$name" "$name" >"$TMP/t.c"
    cp "$TMP/t.c" "$TMP/t.cpp"
    if ! gcc -std=c11 -Wall -Wextra -Werror -pedantic -Iinclude -c "$TMP/t.c" -o "$TMP/t.o" 2>"$TMP/err"; then
        echo "FAIL $name as C11"; cat "$TMP/err"; fail=$((fail+1))
    fi
    if ! g++ -std=c++17 -Wall -Wextra -Werror -pedantic -Iinclude -c "$TMP/t.cpp" -o "$TMP/t.o" 2>"$TMP/err"; then
        echo "FAIL $name as C++17"; cat "$TMP/err"; fail=$((fail+1))
    fi
    # only "panoptes/" includes and system headers: no internal header leaks into the surface
    if grep -E '^#include "' "$h" | grep -v '"panoptes/' >/dev/null; then
        echo "FAIL $name includes a header outside include/panoptes"; fail=$((fail+1))
    fi
    n=$((n+1))
done
echo "$n headers, $fail failures"
[ $fail -eq 0 ]

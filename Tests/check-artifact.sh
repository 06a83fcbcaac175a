#!/usr/bin/env bash
# Checks the surface of the built shared object: exactly the five ABI symbols exported, only libc-level
# run-time dependencies, the soname cilium-envoy expects.
set -euo pipefail
lib=${1:?usage: check-artifact.sh LIBCILIUM_SO}
failures=0
check() { # name, condition-result, detail
    if [ "$2" = ok ]; then echo "ok artifact: $1"; else echo "FAIL artifact: $1: $3"; failures=$((failures + 1)); fi
}

exports=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[A-Z]$/ {print $3}' | sort | tr '\n' ' ')
[ "$exports" = "Close CloseModule OnData OnNewConnection OpenModule " ] && r=ok || r=bad
check "exactly five exported symbols" "$r" "exports are [$exports]"

unexpected=$(ldd "$lib" | awk '{print $1}' | grep -Ev '^(linux-vdso\.so\.1|libc\.so\.6|libm\.so\.6|/lib64/ld-linux-x86-64\.so\.2|ld-linux-x86-64\.so\.2|/lib/ld-linux-aarch64\.so\.1|linux-vdso\.so\.1|libdl\.so\.2|libpthread\.so\.0)$' || true)
[ -z "$unexpected" ] && r=ok || r=bad
check "only libc-level run-time dependencies (libc, libm; the C++ runtime is linked in)" "$r" "also needs: $(echo $unexpected)"
! ldd "$lib" | grep -q 'not found' && r=ok || r=bad
check "every dependency resolves" "$r" "$(ldd "$lib" | grep 'not found' || true)"

soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = libcilium.so ] && r=ok || r=bad
check "soname libcilium.so" "$r" "soname is '$soname'"

readelf -d "$lib" | grep -q 'NODELETE' && r=ok || r=bad
check "marked NODELETE" "$r" "no DF_1_NODELETE flag"

echo "$((5 - failures)) passed, $failures failed"
[ "$failures" -eq 0 ]

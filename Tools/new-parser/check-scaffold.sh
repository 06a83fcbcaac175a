#!/usr/bin/env bash
# The scaffold's own test (make scaffold-test, part of make test): copies this tree (tracked and untracked
# files, no build output) into a temporary folder, generates a parser there with `make new-parser`, and runs
# `make parser-check` on it — a full debug build of the copy, the new parser's unit tests and oracle tests, the
# harness scenarios, its fuzz seeds and its proxylib-host try. This tree is not touched.
#
#   usage: check-scaffold.sh [NAME]        (default name: scaffoldcheck)
set -euo pipefail
name=${1:-scaffoldcheck}
root=$(cd "$(dirname "$0")/../.." && pwd)
copy=$(mktemp -d "${TMPDIR:-/tmp}/proxylib-scaffold.XXXXXX")
trap 'rm -rf "$copy"' EXIT

echo "scaffold-test: copying the tree to $copy"
if git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    (cd "$root" && git ls-files -z --cached --others --exclude-standard |
        while IFS= read -r -d '' path; do [ -e "$path" ] && printf '%s\0' "$path"; done |
        tar --null -T - -cf -) | tar -xf - -C "$copy"
else
    tar -C "$root" --exclude='./.build*' --exclude=./build --exclude=./.venv -cf - . | tar -xf - -C "$copy"
fi

cd "$copy"
make --no-print-directory new-parser NAME="$name"
# The shared files got their lines, and the allocation benchmark compiles with its new row (it runs in
# make alloc-test, on a release build).
grep -q "${name^}Parser" Sources/ProxylibParsers/BuiltinParsers.swift
grep -q "\"$name\"" Sources/ProxylibFuzzTargets/DatapathFuzzTarget.swift
grep -q "\"$name\"" bench/alloc-bench.c
# A second run must refuse to overwrite the parser.
if python3 Tools/new-parser/new_parser.py "$name" 2>/dev/null; then
    echo "scaffold-test: new-parser created '$name' twice" >&2
    exit 1
fi
make --no-print-directory build/alloc-bench
make --no-print-directory parser-check NAME="$name"
echo "scaffold-test: ok ('$name' generated, built and checked in a copy of the tree)"

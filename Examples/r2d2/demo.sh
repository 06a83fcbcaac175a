#!/usr/bin/env bash
# The one-command demo: the real libcilium.so, loaded by proxylib-host through the C ABI, in front of a tiny
# r2d2 droid, enforcing Examples/r2d2/policy.yaml (reads under /public/ and HALT allowed, the rest denied).
# Shows each request's reply as the client sees it and the access-log line the library wrote for it.
#
#   usage: demo.sh HOST_BINARY LIBCILIUM_SO      (make demo passes both)
set -euo pipefail
host_binary=${1:?usage: demo.sh HOST_BINARY LIBCILIUM_SO}
library=${2:?usage: demo.sh HOST_BINARY LIBCILIUM_SO}
here=$(cd "$(dirname "$0")" && pwd)
droid_port=${DROID_PORT:-9000}
proxy_port=${PROXY_PORT:-8000}
. "$here/../example-lib.sh"

# The example policy is written for the droid's usual port, 9000; follow DROID_PORT when it is overridden.
sed "s/\"9000\"/\"$droid_port\"/" "$here/policy.yaml" > "$work/policy.yaml"

python3 "$here/droid_server.py" --port "$droid_port" > "$work/droid.log" 2>&1 &
pids+=($!)
wait_for_line "$work/droid.log" "droid listening"

"$host_binary" --library "$library" --parser r2d2 --listen "127.0.0.1:$proxy_port" \
    --upstream "127.0.0.1:$droid_port" --policy "$work/policy.yaml" > "$work/access.log" 2> "$work/host.log" &
pids+=($!)
wait_for_line "$work/host.log" "listening on"

echo "== policy (Examples/r2d2/policy.yaml)"
grep -v '^#' "$work/policy.yaml"
echo
echo "== proxylib-host"
cat "$work/host.log"
echo
echo "== the client talks to the droid through the proxy"
python3 "$here/client.py" "127.0.0.1:$proxy_port" \
    "READ /public/plans.txt" "READ /private/override-codes" "WRITE /public/plans.txt" "HALT"
sleep 0.3
echo
echo "== access log (written by libcilium.so, collected by proxylib-host)"
cat "$work/access.log"

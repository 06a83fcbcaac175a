#!/usr/bin/env bash
# Tries the @name@ parser live: the real libcilium.so, loaded by proxylib-host through the C ABI, in front of the
# toy server (server.py), enforcing policy.yaml. Sends the requests below through the proxy, shows each reply as
# the client sees it and the access-log lines the library wrote, and fails unless every ALLOWED request reached
# the server and every DENIED one got the denial instead.
#
#   usage: try.sh HOST_BINARY LIBCILIUM_SO          (make try-parser NAME=@name@ passes both)
#
# Edit the requests when the protocol changes; to try a real server instead, start it yourself and set
# SERVER_PORT to its port (then server.py is not started and the server-side check is skipped).
set -euo pipefail
host_binary=${1:?usage: try.sh HOST_BINARY LIBCILIUM_SO}
library=${2:?usage: try.sh HOST_BINARY LIBCILIUM_SO}
here=$(cd "$(dirname "$0")" && pwd)

ALLOWED=("GET public/readme.txt" "PING")
DENIED=("GET private/keys" "PUT public/readme.txt")
DENIAL="ERR access denied"

. "$here/../example-lib.sh"

if [ -n "${SERVER_PORT:-}" ]; then
    server_port=$SERVER_PORT
    : > "$work/server.log"
else
    server_port=$(free_port)
    python3 "$here/server.py" --port "$server_port" > "$work/server.log" 2>&1 &
    pids+=($!)
    wait_for_line "$work/server.log" "listening"
fi
proxy_port=$(free_port)
# The policy names the server's usual port, 9100; follow the port actually used.
sed "s/\"9100\"/\"$server_port\"/" "$here/policy.yaml" > "$work/policy.yaml"
"$host_binary" --library "$library" --parser @name@ --listen "127.0.0.1:$proxy_port" \
    --upstream "127.0.0.1:$server_port" --policy "$work/policy.yaml" > "$work/access.log" 2> "$work/host.log" &
pids+=($!)
wait_for_line "$work/host.log" "listening on"

echo "== policy ($here/policy.yaml, port set to the server's $server_port)"
grep -v '^#' "$work/policy.yaml"
echo
echo "== the client talks to the server through proxylib-host"
# One connection, one request at a time: each reply is read before the next request goes.
python3 - "$proxy_port" "${ALLOWED[@]}" "${DENIED[@]}" > "$work/replies.txt" <<'PY'
import socket, sys
with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5) as sock:
    replies = sock.makefile("rb")
    for request in sys.argv[2:]:
        sock.sendall(request.encode() + b"\r\n")
        print(f"{request}\t{replies.readline().decode().rstrip()}")
PY
failed=0
while IFS=$'\t' read -r request reply; do
    printf 'client: %-28s -> %s\n' "$request" "$reply"
    expected_denied=0
    for denied in "${DENIED[@]}"; do [ "$request" = "$denied" ] && expected_denied=1; done
    if [ $expected_denied = 1 ] && [ "$reply" != "$DENIAL" ]; then
        echo "try: '$request' should have been denied" >&2; failed=1
    elif [ $expected_denied = 0 ] && [ "$reply" = "$DENIAL" ]; then
        echo "try: '$request' should have been allowed" >&2; failed=1
    fi
done < "$work/replies.txt"
# The library sends its entries from a background thread: give them a moment to arrive.
for _ in $(seq 50); do
    [ "$(grep -c -e ' REQUEST ' -e ' DENIED ' "$work/access.log" || true)" -ge $(( ${#ALLOWED[@]} + ${#DENIED[@]} )) ] && break
    sleep 0.1
done
echo
echo "== the server received"
cat "$work/server.log"
if [ -z "${SERVER_PORT:-}" ]; then
    for request in "${ALLOWED[@]}"; do
        grep -qxF "got: $request" "$work/server.log" || { echo "try: '$request' did not reach the server" >&2; failed=1; }
    done
    for request in "${DENIED[@]}"; do
        if grep -qxF "got: $request" "$work/server.log"; then echo "try: '$request' reached the server" >&2; failed=1; fi
    done
fi
echo
echo "== access log (written by libcilium.so, collected by proxylib-host)"
cat "$work/access.log"
requests=$(grep -c ' REQUEST ' "$work/access.log" || true)
denials=$(grep -c ' DENIED ' "$work/access.log" || true)
if [ "$requests" != ${#ALLOWED[@]} ] || [ "$denials" != ${#DENIED[@]} ]; then
    echo "try: expected ${#ALLOWED[@]} REQUEST and ${#DENIED[@]} DENIED access-log lines" >&2; failed=1
fi
[ $failed = 0 ] && echo "ok: allowed requests passed, denied ones were answered by the proxy, all logged"
exit $failed

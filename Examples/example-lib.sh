# Sourced by the example scripts (Examples/*/demo.sh, try.sh): a work folder and background processes that
# are removed and stopped at exit, and a wait for a process's log line.
work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

wait_for_line() { # file, text: wait up to 10 s for a line containing text
    for _ in $(seq 100); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
    echo "${0##*/}: timed out waiting for '$2' in $1:" >&2; cat "$1" >&2; return 1
}

free_port() { # a TCP port free on loopback right now
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

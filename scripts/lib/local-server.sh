# Sourced by scripts: start a throw-away `porter-sandbox serve` and wait until it is ready.
#
#   source scripts/lib/local-server.sh
#   start_local_server BINARY [EXTRA SERVE ARGS…]
#
# Sets `server_url`, `server_key` (the key the server generated), `server_pid` and
# `server_dir` (temporary; holds the data directory and the server's stderr in `server.log`),
# and stops the server and removes the directory on exit. Fails with the server's own
# messages when it does not start within 30 s.

start_local_server() {
    local bin="$1"
    shift
    if [ ! -x "$bin" ]; then
        echo "error: $bin is missing: build it with \`cargo build -p porter-sandbox-cli\`" >&2
        return 1
    fi
    server_dir="$(mktemp -d)"
    RUST_LOG="${RUST_LOG:-warn}" PORTER_SANDBOX_DISCOVERY_FILE=none \
        "$bin" serve --listen 127.0.0.1:0 --data-dir "$server_dir/data" --ephemeral \
        --ready-file "$server_dir/ready.json" "$@" >/dev/null 2>"$server_dir/server.log" &
    server_pid=$!
    trap 'stop_local_server' EXIT
    local _
    for _ in $(seq 1 600); do
        [ -s "$server_dir/ready.json" ] && break
        if ! kill -0 "$server_pid" 2>/dev/null; then
            echo "error: the local server exited before it was ready:" >&2
            cat "$server_dir/server.log" >&2
            return 1
        fi
        sleep 0.05
    done
    if [ ! -s "$server_dir/ready.json" ]; then
        echo "error: the local server was not ready after 30 s:" >&2
        cat "$server_dir/server.log" >&2
        return 1
    fi
    server_url="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["url"])' "$server_dir/ready.json")" || server_url=""
    server_key="$(cat "$server_dir/data/api-key" 2>/dev/null)" || server_key=""
    if [ -z "$server_url" ]; then
        echo "error: the local server wrote no URL in its ready file:" >&2
        cat "$server_dir/server.log" >&2
        return 1
    fi
}

stop_local_server() {
    if [ -n "${server_pid:-}" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
        server_pid=""
    fi
    [ -n "${server_dir:-}" ] && rm -rf "$server_dir"
    return 0
}

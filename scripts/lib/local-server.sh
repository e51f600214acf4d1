# Sourced by scripts: start a throw-away `porter-sandbox serve` and wait until it is ready.
#
#   source scripts/lib/local-server.sh
#   start_local_server BINARY [EXTRA SERVE ARGS…]
#
# Sets `server_url`, `server_key` (the key the server generated), `server_pid` and
# `server_dir` (temporary; holds the data directory and the server's stderr in `server.log`),
# and stops the server and removes the directory on exit. Fails with the server's own
# messages when it does not start within 60 s (generous, for a loaded machine).

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
    for _ in $(seq 1 1200); do
        [ -s "$server_dir/ready.json" ] && break
        if ! kill -0 "$server_pid" 2>/dev/null; then
            echo "error: the local server exited before it was ready:" >&2
            cat "$server_dir/server.log" >&2
            return 1
        fi
        sleep 0.05
    done
    if [ ! -s "$server_dir/ready.json" ]; then
        echo "error: the local server was not ready after 60 s:" >&2
        cat "$server_dir/server.log" >&2
        return 1
    fi
    local ready="$server_dir/ready.json" field='import json, sys; print(json.load(open(sys.argv[1])).get(sys.argv[2]) or "")'
    server_url="$(python3 -c "$field" "$ready" url)" || server_url=""
    # The ready file names the key's file when the server generated one (no key was given).
    local key_file
    key_file="$(python3 -c "$field" "$ready" api_key_file)" || key_file=""
    server_key=""
    if [ -n "$key_file" ]; then server_key="$(cat "$key_file")" || server_key=""; fi
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

# shellcheck shell=bash
# Helpers shared by the scripts of the Kubernetes test tier (sourced, not run). They talk to the
# API server with curl and read JSON with python3, so a fresh machine needs no kubectl.

k8s_log() { echo "${0##*/}: $*" >&2; }

# now_ms — the time in milliseconds; seconds_since MS — the seconds since then, to a tenth.
now_ms() { date +%s%3N; }
seconds_since() {
    local ms=$(($(now_ms) - $1))
    printf '%d.%d' $((ms / 1000)) $((ms % 1000 / 100))
}

# k8s_token KUBECONFIG — the bearer token of a kubeconfig written by cluster.sh.
k8s_token() {
    sed -n 's/^ *token: *//p' "$1" | head -n1
}

# k8s_server KUBECONFIG — the API server URL of a kubeconfig written by cluster.sh.
k8s_server() {
    sed -n 's/^ *server: *//p' "$1" | head -n1
}

# k8s_request KUBECONFIG METHOD PATH [BODY_FILE] — one API request with the kubeconfig's token,
# checked against the cluster's CA (K8S_CA, else pki/ca.crt beside the kubeconfig). Prints the
# HTTP status (000: no answer); the response body is left in "$K8S_BODY", its headers in
# "$K8S_BODY.headers". A YAML body is sent as application/yaml, which the API server decodes like
# JSON; a *.merge-patch.json body as a JSON merge patch.
k8s_request() {
    local kubeconfig=$1 method=$2 path=$3 body=${4:-}
    local ca="${K8S_CA:-$(dirname "$kubeconfig")/pki/ca.crt}"
    local args=(--silent --show-error --max-time 30 --cacert "$ca" -w '%{http_code}'
        -o "$K8S_BODY" -D "$K8S_BODY.headers" -X "$method" -H 'Accept: application/json'
        -H "Authorization: Bearer $(k8s_token "$kubeconfig")")
    if [ -n "$body" ]; then
        case "$body" in
        *.merge-patch.json) args+=(-H 'Content-Type: application/merge-patch+json') ;;
        *.json) args+=(-H 'Content-Type: application/json') ;;
        *) args+=(-H 'Content-Type: application/yaml') ;;
        esac
        args+=(--data-binary "@$body")
    fi
    # On a failed connection curl still writes the status, as 000.
    curl "${args[@]}" "$(k8s_server "$kubeconfig")$path" || true
}

# k8s_expect STATUS... -- KUBECONFIG METHOD PATH [BODY_FILE] — k8s_request that fails (with the
# response body on stderr) unless the status is one of those listed.
k8s_expect() {
    local wanted=()
    while [ "$1" != -- ]; do wanted+=("$1"); shift; done
    shift
    local status
    status=$(k8s_request "$@")
    for code in "${wanted[@]}"; do
        [ "$status" = "$code" ] && return 0
    done
    k8s_log "error: $2 $3 answered $status, expected ${wanted[*]}: $(head -c 600 "$K8S_BODY" 2>/dev/null)"
    return 1
}

# k8s_json EXPRESSION — evaluates a Python expression over the last response body (bound to `o`)
# and prints the result; missing keys print nothing instead of failing.
k8s_json() {
    python3 -c '
import json, sys
o = json.load(open(sys.argv[1]))
try:
    value = eval(sys.argv[2])
except (KeyError, IndexError, TypeError):
    value = None
if value is not None:
    print(value if not isinstance(value, bool) else str(value).lower())
' "$K8S_BODY" "$1"
}

# k8s_collection_path API_VERSION KIND NAMESPACE — the REST collection of a kind. Covers the kinds
# the deploy/ manifests and the test tier use (regular plurals, and -y → -ies).
k8s_collection_path() {
    local api_version=$1 kind=$2 namespace=$3 plural prefix
    plural=$(echo "$kind" | tr '[:upper:]' '[:lower:]')
    case "$plural" in
    *y) plural="${plural%y}ies" ;;
    *) plural="${plural}s" ;;
    esac
    case "$api_version" in
    v1) prefix=/api/v1 ;;
    *) prefix="/apis/$api_version" ;;
    esac
    case "$kind" in
    Namespace | Node | ClusterRole | ClusterRoleBinding | PersistentVolume) echo "$prefix/$plural" ;;
    *) echo "$prefix/namespaces/$namespace/$plural" ;;
    esac
}

# k8s_create_manifest KUBECONFIG FILE — creates every document of a YAML file (documents separated
# by `---` lines), each in its own metadata.namespace. Settings (environment):
#   K8S_NAMESPACE_AS=NS  puts objects of the namespace porter-sandbox into NS instead (the deploy/
#                        manifests then serve a test namespace);
#   K8S_ONLY_KINDS="A B" creates only documents of these kinds;
#   K8S_SKIP_KINDS="A B" creates all but documents of these kinds;
#   K8S_EXISTING_OK=1    accepts objects that exist already (409);
#   K8S_DRY_RUN=1        has the API server validate, default, admit and authorise each object
#                        without storing it (dryRun=All);
#   K8S_NO_WARNINGS=1    fails on any warning of the API server too (a deprecated field, a pod
#                        template that the namespace's Pod Security level would refuse).
# Unknown or duplicate fields are refused (fieldValidation=Strict), so a typo fails loudly. The
# documents must keep `apiVersion:`, `kind:` and `metadata:` at the top level, as deploy/ does.
k8s_create_manifest() {
    local kubeconfig=$1 file=$2 parts query="?fieldValidation=Strict" rewrite="" accepted=(200 201)
    [ -n "${K8S_DRY_RUN:-}" ] && query+="&dryRun=All"
    [ -n "${K8S_EXISTING_OK:-}" ] && accepted+=(409)
    [ -n "${K8S_NAMESPACE_AS:-}" ] && rewrite="s/^\( *namespace:\) porter-sandbox\$/\1 $K8S_NAMESPACE_AS/"
    parts=$(mktemp -d)
    sed "$rewrite" "$file" |
        awk -v dir="$parts" 'BEGIN { n = 0 } /^---/ { n++; next } { print > (dir "/" sprintf("%03d", n) ".yaml") }'
    local part kind api_version namespace collection
    for part in "$parts"/*.yaml; do
        kind=$(sed -n 's/^kind: *//p' "$part" | head -n1)
        api_version=$(sed -n 's/^apiVersion: *//p' "$part" | head -n1)
        [ -n "$kind" ] || continue # only comments
        if [ -n "${K8S_ONLY_KINDS:-}" ] && [[ " $K8S_ONLY_KINDS " != *" $kind "* ]]; then
            continue
        fi
        if [[ " ${K8S_SKIP_KINDS:-} " == *" $kind "* ]]; then
            continue
        fi
        namespace=$(awk '/^metadata:/ { m = 1; next } /^[^ #]/ { m = 0 }
            m && /^  namespace:/ { print $2; exit }' "$part")
        collection=$(k8s_collection_path "$api_version" "$kind" "$namespace")
        if ! k8s_expect "${accepted[@]}" -- "$kubeconfig" POST "$collection$query" "$part"; then
            k8s_log "error: creating the $kind of $file failed"
            rm -rf "$parts"
            return 1
        fi
        if [ -n "${K8S_NO_WARNINGS:-}" ] && grep -i '^warning:' "$K8S_BODY.headers" >&2; then
            k8s_log "error: the API server warned about the $kind of $file"
            rm -rf "$parts"
            return 1
        fi
    done
    rm -rf "$parts"
}

# --- Processes of a cluster or node: each recorded in "$K8S_RUN_DIR/pids" as NAME PID START, with
# its output in "$K8S_RUN_DIR/logs/NAME.log". The start time tells a recorded process from a later
# one that reuses its PID, so only what was started here is ever signalled.

# start_time PID — the process's start time (clock ticks since boot).
start_time() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) } # after the command name, which may hold spaces
    # shellcheck disable=SC2086
    set -- $stat
    echo "${20}"
}

# alive PID START — whether the recorded process still runs (zombies count as ended).
alive() {
    local stat
    [ "$(start_time "$1")" = "$2" ] || return 1
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [ "${stat%% *}" != Z ]
}

# launch NAME COMMAND... — starts a process in the background, logging to its log file, and
# records it. No output stream is shared with the caller, which may be capturing ours.
launch() {
    local name=$1
    shift
    "$@" </dev/null >"$K8S_RUN_DIR/logs/$name.log" 2>&1 &
    local pid=$!
    echo "$name $pid $(start_time "$pid")" >>"$K8S_RUN_DIR/pids"
}

# stop_recorded NAME PID START SECONDS — SIGTERM, then SIGKILL after SECONDS; waits for the end.
stop_recorded() {
    local name=$1 pid=$2 start=$3 grace=$4 deadline
    alive "$pid" "$start" || return 0
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$((SECONDS + grace))
    while alive "$pid" "$start" && [ $SECONDS -lt $deadline ]; do sleep 0.05; done
    if alive "$pid" "$start"; then
        k8s_log "$name ($pid) ignored SIGTERM for $grace s: killing it"
        kill -KILL "$pid" 2>/dev/null || true
        while alive "$pid" "$start"; do sleep 0.05; done
    fi
}

# all_alive — fails, naming it, if a recorded process has ended.
all_alive() {
    local name pid start
    while read -r name pid start; do
        if ! alive "$pid" "$start"; then
            k8s_log "error: $name ended (see $K8S_RUN_DIR/logs/$name.log)"
            return 1
        fi
    done <"$K8S_RUN_DIR/pids"
}

# wait_for WHAT SECONDS COMMAND... — polls COMMAND until it succeeds; fails at once if a recorded
# process ends meanwhile.
wait_for() {
    local what=$1 limit=$2 deadline
    shift 2
    deadline=$((SECONDS + limit))
    until "$@" >/dev/null 2>&1; do
        all_alive || return 1
        if [ $SECONDS -ge $deadline ]; then
            k8s_log "error: $what not ready after $limit s"
            return 1
        fi
        sleep 0.2
    done
}

# free_ports N — N distinct free TCP ports on 127.0.0.1 (held open together while chosen).
free_ports() {
    python3 -c '
import socket, sys
sockets = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in sockets:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in sockets))
' "$1"
}

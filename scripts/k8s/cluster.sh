#!/usr/bin/env bash
# A throwaway Kubernetes control plane on 127.0.0.1 for the tests of `serve --runtime kubernetes`:
# etcd, kube-apiserver (RBAC enforced), kube-scheduler and kwok, which simulates one node
# (kwok-node-0) whose pods become Running and Ready at once (no containers run).
#
#   scripts/k8s/cluster.sh up DIR     start it; DIR (new or empty) holds all its state and logs
#   scripts/k8s/cluster.sh down DIR   stop its processes (by recorded PID) and remove DIR
#
# Every port is picked free, so several clusters can run at once. `up` builds the binaries on a
# cache miss (scripts/k8s/build.sh; PORTER_K8S_BIN=DIR skips that) and, once the API server and the
# node are ready, writes:
#   DIR/admin.kubeconfig       a member of system:masters
#   DIR/server.kubeconfig      user porter-sandbox-server: only the Role of deploy/rbac.yaml, bound
#                              in the test namespace (and what every authenticated user may do)
#   DIR/restricted.kubeconfig  user porter-sandbox-restricted: no grant at all
#   DIR/env                    KEY=VALUE lines (shell-sourceable): KUBECONFIG_ADMIN,
#                              KUBECONFIG_SERVER, KUBECONFIG_RESTRICTED, PORTER_K8S_NAMESPACE,
#                              KUBE_API, KUBE_CA, PORTER_K8S_NODE
#   DIR/pids                   NAME PID START-TIME of each process
# and prints DIR/env as its last stdout line. If any step fails, `up` stops what it started and
# removes DIR. The namespace porter-sandbox-test has its `default` ServiceAccount and
# kube-root-ca.crt ConfigMap (there is no controller-manager to make them) and the Pod Security
# level of the sandbox namespace of deploy/rbac.yaml.
#
# What kwok does and does not do, for tests: a pod on kwok-node-0 is Running and Ready (init
# containers Completed, probes ignored) well under a second after its creation, and gone at once
# when deleted. Nothing runs: pods/log answers 404 and exec upgrades, then reports a 500 status
# ("unable to upgrade connection"). kwok only moves Pending pods, so a test can end a workload by
# patching the pod's status (phase Failed or Succeeded, a terminated container state with its
# exit code) as the admin; the server's user may not patch pods/status.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

namespace=porter-sandbox-test
node=kwok-node-0
server_user=porter-sandbox-server
restricted_user=porter-sandbox-restricted

cmd_down() {
    local dir=$1 down_started
    down_started=$(now_ms)
    # A real node of scripts/k8s/node.sh first: its containers and mounts live under DIR.
    if [ -d "$dir/node" ]; then "$here/node.sh" down "$dir" || true; fi
    if [ -f "$dir/pids" ]; then
        local lines name pid start
        # One at a time, in the reverse order of starting: clients before the API server, etcd
        # last (an API server whose etcd is gone first takes seconds retrying it before exiting).
        mapfile -t lines < <(tac "$dir/pids")
        for line in "${lines[@]}"; do
            read -r name pid start <<<"$line"
            stop_recorded "$name" "$pid" "$start" 8
        done
        # Reap our own children when `up` cleans up after a failure.
        wait 2>/dev/null || true
    fi
    rm -rf "$dir"
    k8s_log "down in $(seconds_since "$down_started") s"
}

write_kubeconfig() { # FILE USER TOKEN
    cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
  - name: porter-sandbox-test
    cluster:
      server: $api_url
      certificate-authority-data: $(base64 -w0 "$dir/pki/ca.crt")
users:
  - name: $2
    user:
      token: $3
contexts:
  - name: porter-sandbox-test
    context:
      cluster: porter-sandbox-test
      user: $2
      namespace: $namespace
current-context: porter-sandbox-test
EOF
    chmod 600 "$1"
}

make_pki() {
    local pki="$dir/pki" ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
    mkdir -p "$pki"
    openssl req -x509 "${ec[@]}" -keyout "$pki/ca.key" -out "$pki/ca.crt" -days 30 \
        -subj /CN=porter-sandbox-test-ca \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
    openssl req -new "${ec[@]}" -keyout "$pki/apiserver.key" -out "$pki/apiserver.csr" \
        -subj /CN=kube-apiserver 2>/dev/null
    # 10.96.0.1 is the `kubernetes` Service address pods of a real node would use.
    printf '%s\n' 'basicConstraints=CA:FALSE' 'keyUsage=critical,digitalSignature' \
        'extendedKeyUsage=serverAuth' \
        'subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc' \
        >"$pki/apiserver.ext"
    openssl x509 -req -in "$pki/apiserver.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" \
        -CAcreateserial -days 30 -extfile "$pki/apiserver.ext" -out "$pki/apiserver.crt" 2>/dev/null
    openssl ecparam -name prime256v1 -genkey -noout -out "$pki/sa.key"
    openssl ec -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
    chmod 600 "$pki"/*.key
}

node_ready() {
    [ "$(k8s_request "$dir/admin.kubeconfig" GET "/api/v1/nodes/$node")" = 200 ] &&
        [ "$(k8s_json '[c["status"] for c in o["status"]["conditions"] if c["type"] == "Ready"][0]')" = True ]
}

cmd_up() {
    local bin stages
    bin=${PORTER_K8S_BIN:-$("$here/build.sh" | tail -n1)}
    stages="$(dirname "$bin")/kwok-stages.yaml"
    if ! [ -x "$bin/kube-apiserver" ] || ! [ -f "$stages" ]; then
        k8s_log "error: $bin lacks the binaries (run scripts/k8s/build.sh)"
        exit 1
    fi

    mkdir -p "$dir/logs"
    : >"$dir/pids"
    K8S_BODY="$dir/.response"
    started=$(now_ms)

    local etcd_port peer_port api_port
    read -r etcd_port peer_port api_port <<<"$(free_ports 3)"
    api_url="https://127.0.0.1:$api_port"
    make_pki
    local admin_token server_token restricted_token
    admin_token=$(openssl rand -hex 24)
    server_token=$(openssl rand -hex 24)
    restricted_token=$(openssl rand -hex 24)
    # token,user,uid[,"groups"]: the server and restricted users get no group (beyond
    # system:authenticated, added to everyone authenticated), so only RoleBindings grant them.
    {
        echo "$admin_token,porter-sandbox-admin,porter-sandbox-admin,\"system:masters\""
        echo "$server_token,$server_user,$server_user"
        echo "$restricted_token,$restricted_user,$restricted_user"
    } >"$dir/tokens.csv"
    chmod 600 "$dir/tokens.csv"
    write_kubeconfig "$dir/admin.kubeconfig" porter-sandbox-admin "$admin_token"
    write_kubeconfig "$dir/server.kubeconfig" "$server_user" "$server_token"
    write_kubeconfig "$dir/restricted.kubeconfig" "$restricted_user" "$restricted_token"

    # A test cluster's data is disposable: no fsync keeps a loaded machine's disk out of the way.
    launch etcd "$bin/etcd" --name porter-sandbox-test --data-dir "$dir/etcd" \
        --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
        --listen-peer-urls "http://127.0.0.1:$peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
        --initial-cluster "porter-sandbox-test=http://127.0.0.1:$peer_port" \
        --unsafe-no-fsync --log-level warn
    wait_for etcd 60 curl -sf "http://127.0.0.1:$etcd_port/health"

    local pki="$dir/pki"
    launch kube-apiserver "$bin/kube-apiserver" \
        --etcd-servers "http://127.0.0.1:$etcd_port" \
        --bind-address 127.0.0.1 --secure-port "$api_port" --advertise-address 127.0.0.1 \
        --endpoint-reconciler-type none --service-cluster-ip-range 10.96.0.0/24 \
        --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" --cert-dir "$pki" \
        --token-auth-file "$dir/tokens.csv" --authorization-mode Node,RBAC \
        --service-account-issuer https://kubernetes.default.svc \
        --service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
        --allow-privileged=true --profiling=false
    wait_for kube-apiserver 90 k8s_expect 200 -- "$dir/admin.kubeconfig" GET /readyz

    # What kube-controller-manager would make: the namespace's default ServiceAccount (pods
    # are refused without it) and the cluster CA ConfigMap that pods' token volumes mount.
    local manifest="$dir/cluster-objects.yaml" ca_indented
    ca_indented=$(sed 's/^/    /' "$pki/ca.crt")
    cat >"$manifest" <<EOF
apiVersion: v1
kind: Namespace
metadata:
  name: $namespace
  labels: # as deploy/rbac.yaml labels the sandbox namespace
    pod-security.kubernetes.io/enforce: baseline
    pod-security.kubernetes.io/warn: baseline
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: default
  namespace: $namespace
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: kube-root-ca.crt
  namespace: $namespace
data:
  ca.crt: |
$ca_indented
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: porter-sandbox-server-test
  namespace: $namespace
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: porter-sandbox
subjects:
  - apiGroup: rbac.authorization.k8s.io
    kind: User
    name: $server_user
---
apiVersion: v1
kind: Node
metadata:
  name: $node
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    kubernetes.io/hostname: $node
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    type: kwok
status:
  capacity: { cpu: "32", memory: 256Gi, pods: "110", ephemeral-storage: 1Ti }
  allocatable: { cpu: "32", memory: 256Gi, pods: "110", ephemeral-storage: 1Ti }
EOF
    k8s_create_manifest "$dir/admin.kubeconfig" "$manifest"
    # The server's Role, exactly as deploy/ ships it, in the test namespace.
    K8S_NAMESPACE_AS=$namespace K8S_ONLY_KINDS=Role \
        k8s_create_manifest "$dir/admin.kubeconfig" "$root/deploy/rbac.yaml"

    launch kube-scheduler "$bin/kube-scheduler" --kubeconfig "$dir/admin.kubeconfig" \
        --leader-elect=false --secure-port 0
    launch kwok "$bin/kwok" --kubeconfig "$dir/admin.kubeconfig" --config "$stages" \
        --manage-single-node "$node" --node-lease-duration-seconds 40 \
        --cidr 10.244.0.0/16 --node-ip 10.0.0.1
    wait_for "node $node" 60 node_ready
    # The API server taints every new node not-ready; the node lifecycle controller of
    # kube-controller-manager, absent here, would lift it once the node reports Ready.
    echo '{"spec":{"taints":null}}' >"$dir/untaint.merge-patch.json"
    k8s_expect 200 -- "$dir/admin.kubeconfig" PATCH "/api/v1/nodes/$node" "$dir/untaint.merge-patch.json"

    cat >"$dir/env" <<EOF
KUBECONFIG_ADMIN=$dir/admin.kubeconfig
KUBECONFIG_SERVER=$dir/server.kubeconfig
KUBECONFIG_RESTRICTED=$dir/restricted.kubeconfig
PORTER_K8S_NAMESPACE=$namespace
KUBE_API=$api_url
KUBE_CA=$pki/ca.crt
PORTER_K8S_NODE=$node
EOF
    k8s_log "up in $(seconds_since "$started") s: $api_url (logs in $dir/logs)"
    echo "$dir/env"
}

# up_failed STATUS — on a failed `up`: shows the end of each log, then stops and removes it all.
up_failed() {
    [ "$1" -eq 0 ] && return
    k8s_log "up failed: stopping what it started"
    local log
    for log in "$dir"/logs/*.log; do
        [ -s "$log" ] || continue
        echo "--- $log (last lines)" >&2
        tail -n 15 "$log" >&2
    done
    cmd_down "$dir"
}

usage() {
    echo "usage: $0 up DIR | down DIR" >&2
    exit 2
}

[ $# -eq 2 ] || usage
dir=$2
case "$dir" in
*[[:space:]]*) k8s_log "error: DIR must not contain whitespace (it ends up in KEY=VALUE files)"; exit 2 ;;
/*) ;;
*) dir="$PWD/$dir" ;;
esac
K8S_RUN_DIR=$dir
case "$1" in
up)
    if [ -e "$dir" ] && [ -n "$(ls -A "$dir")" ]; then
        k8s_log "error: $dir is not empty"
        exit 1
    fi
    trap 'up_failed $?' EXIT
    # Background processes of a script ignore SIGINT: an interrupted `up` must stop them itself.
    trap 'exit 130' INT
    trap 'exit 143' TERM
    cmd_up
    ;;
down) cmd_down "$dir" ;;
*) usage ;;
esac

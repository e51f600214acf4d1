#!/usr/bin/env bash
# Smoke test of the Kubernetes test tier, end to end: builds the binaries (on a cache miss), starts
# a cluster (scripts/k8s/cluster.sh) in a temporary directory, checks the deploy/ manifests with a
# server-side dry run, and as the server's user (only deploy/rbac.yaml's Role) creates a pod that
# kwok must report Running and Ready on its node, then deletes it; checks that the server's user
# may exec into it over WebSocket and manage services, PVCs, network policies and leases, and that
# RBAC refuses what the Role does not grant; stops the cluster. Exits non-zero on any failure;
# leaves nothing behind.
#
#   scripts/k8s/smoke.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

started=$(now_ms)
phase_started=$started
phase() { # NAME — reports the time of the phase that just ended
    k8s_log "$1: $(seconds_since "$phase_started") s"
    phase_started=$(now_ms)
}

PORTER_K8S_BIN=$("$here/build.sh" | tail -n1)
export PORTER_K8S_BIN
phase build

dir=$(mktemp -d "${TMPDIR:-/tmp}/porter-k8s-smoke.XXXXXX")
K8S_BODY="$(mktemp)"
cleanup() {
    local status=$?
    "$here/cluster.sh" down "$dir" || status=1
    rm -f "$K8S_BODY" "$K8S_BODY.headers"
    if [ $status -eq 0 ]; then
        k8s_log "passed in $(seconds_since "$started") s"
    else
        k8s_log "FAILED"
    fi
    exit $status
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"$here/cluster.sh" up "$dir" >/dev/null
# shellcheck disable=SC1091
. "$dir/env"
phase "cluster up"

"$here/check-manifests.sh" "$dir"
phase "manifests checked"

server=$KUBECONFIG_SERVER
pods="/api/v1/namespaces/$PORTER_K8S_NAMESPACE/pods"
name="smoke-$(openssl rand -hex 4)"
cat >"$dir/pod.yaml" <<EOF
apiVersion: v1
kind: Pod
metadata:
  name: $name
  labels:
    app.kubernetes.io/managed-by: porter-sandbox-smoke
spec:
  containers:
    - name: main
      image: busybox:1.36
      imagePullPolicy: Never
      command: [sleep, "3600"]
EOF
k8s_expect 201 -- "$server" POST "$pods" "$dir/pod.yaml"

running_and_ready() {
    k8s_expect 200 -- "$server" GET "$pods/$name" 2>/dev/null &&
        [ "$(k8s_json 'o["status"]["phase"]')" = Running ] &&
        [ "$(k8s_json '[c["status"] for c in o["status"]["conditions"] if c["type"] == "Ready"][0]')" = True ]
}
deadline=$((SECONDS + 60))
until running_and_ready; do
    if [ $SECONDS -ge $deadline ]; then
        k8s_log "error: pod $name not Running and Ready after 60 s: $(head -c 2000 "$K8S_BODY")"
        exit 1
    fi
    sleep 0.2
done
node=$(k8s_json 'o["spec"]["nodeName"]')
[ "$node" = "$PORTER_K8S_NODE" ] || { k8s_log "error: pod $name is on node '$node'"; exit 1; }
phase "pod created, scheduled on $node, Running and Ready"

# exec_over_websocket KUBECONFIG — the HTTP status of an exec into the pod over WebSocket (a GET
# upgrade, as the kube crate sends it). kwok runs no containers, so an authorised request fails
# past authorisation (101 and an error frame, or a 5xx); a refused one answers 403.
exec_over_websocket() {
    curl --silent --http1.1 --max-time 10 --cacert "$KUBE_CA" -o /dev/null -w '%{http_code}' \
        -H "Authorization: Bearer $(k8s_token "$1")" -H 'Connection: Upgrade' -H 'Upgrade: websocket' \
        -H 'Sec-WebSocket-Version: 13' -H "Sec-WebSocket-Key: $(openssl rand -base64 16)" \
        -H 'Sec-WebSocket-Protocol: v5.channel.k8s.io' \
        "$KUBE_API$pods/$name/exec?command=true&stdout=true&container=main" || true
}
status=$(exec_over_websocket "$server")
case "$status" in
403 | 000) k8s_log "error: the server's user cannot exec over WebSocket (status $status)"; exit 1 ;;
esac
status=$(exec_over_websocket "$KUBECONFIG_RESTRICTED")
[ "$status" = 403 ] || { k8s_log "error: exec by the restricted user answered $status, not 403"; exit 1; }
phase "exec over WebSocket authorised for the server ($status for the restricted user)"

k8s_expect 200 -- "$server" DELETE "$pods/$name"
deadline=$((SECONDS + 30))
until [ "$(k8s_request "$server" GET "$pods/$name")" = 404 ]; do
    if [ $SECONDS -ge $deadline ]; then
        k8s_log "error: pod $name still there 30 s after its deletion"
        exit 1
    fi
    sleep 0.2
done
phase "pod deleted and gone"

# The other objects the Role lets the server manage: create, get, list, delete each.
ns=$PORTER_K8S_NAMESPACE
cat >"$dir/objects.yaml" <<EOF
apiVersion: v1
kind: Service
metadata:
  name: $name
  namespace: $ns
spec:
  selector: { app: $name }
  ports: [{ port: 8080 }]
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: $name
  namespace: $ns
spec:
  accessModes: [ReadWriteOnce]
  resources: { requests: { storage: 1Gi } }
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: $name
  namespace: $ns
spec:
  podSelector: { matchLabels: { app: $name } }
  policyTypes: [Egress]
  egress: [{ to: [{ ipBlock: { cidr: 10.1.2.0/24 } }] }]
---
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata:
  name: $name
  namespace: $ns
spec:
  holderIdentity: smoke
EOF
k8s_create_manifest "$server" "$dir/objects.yaml"
for collection in "/api/v1/namespaces/$ns/services" "/api/v1/namespaces/$ns/persistentvolumeclaims" \
    "/apis/networking.k8s.io/v1/namespaces/$ns/networkpolicies"; do
    k8s_expect 200 -- "$server" GET "$collection"
    k8s_expect 200 -- "$server" GET "$collection/$name"
    k8s_expect 200 202 -- "$server" DELETE "$collection/$name"
done
leases="/apis/coordination.k8s.io/v1/namespaces/$ns/leases"
k8s_expect 200 -- "$server" GET "$leases/$name"
k8s_json 'json.dumps(dict(o, spec=dict(o["spec"], holderIdentity="smoke-2")))' >"$dir/lease.json"
k8s_expect 200 -- "$server" PUT "$leases/$name" "$dir/lease.json"
phase "services, PVCs, network policies and leases as the server's user"

# RBAC refusals: a user without grants, and the server's user outside its Role.
k8s_expect 403 -- "$KUBECONFIG_RESTRICTED" POST "$pods" "$dir/pod.yaml"
k8s_expect 403 -- "$KUBECONFIG_RESTRICTED" GET "$pods"
k8s_expect 403 -- "$server" POST /api/v1/namespaces/default/pods "$dir/pod.yaml"
k8s_expect 403 -- "$server" GET "/api/v1/namespaces/$PORTER_K8S_NAMESPACE/secrets"
k8s_expect 403 -- "$server" GET /api/v1/nodes
k8s_expect 403 -- "$server" DELETE "$leases/$name" # leases: get, create, update only
phase "RBAC refusals (403)"

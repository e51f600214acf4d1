#!/usr/bin/env bash
# A real node for a throwaway cluster of scripts/k8s/cluster.sh: Debian containerd + runc, a
# kubelet (built by scripts/k8s/build.sh --with-node) and the bridge CNI plugin, so pods really
# run (logs, exec, probes), as the tests of the real-node tier need.
#
#   scripts/k8s/node.sh up DIR                 start it for the cluster in DIR (after cluster.sh up)
#   scripts/k8s/node.sh load-agent DIR BINARY  import the image porter-sandbox:test holding BINARY
#   scripts/k8s/node.sh down DIR               stop it and remove everything it created
#
# `up` keeps its state in DIR/node (containerd's root, state and socket, the kubelet's root,
# CNI's address leases, logs, DIR/node/pids), imports the images of `images.sh base` (pause and
# busybox:1.36), waits for the node `localhost` to be Ready, untaints it, cordons kwok's node
# (pods then land on the real one) and adds to DIR/env:
#   PORTER_K8S_REAL_NODE=localhost  PORTER_K8S_CONTAINERD=unix socket of the node's containerd
# On a failure it stops what it started and removes what it created.
#
# One real node per machine: a kubelet and the CRI plugin also use fixed paths (/var/log/pods,
# /var/log/containers, /var/lib/cni, /run/containerd/s, /run/netns, cgroups named kubepods);
# the lock /run/porter-k8s-node.lock names the cluster that holds them. `down` removes those it
# created, stops the containers' shims of its containerd, unmounts what is mounted under
# DIR/node and deletes the bridge. The node is called `localhost` because the API server
# reaches a kubelet at its node's Hostname address first.
#
# Machine quirks (see /work/shared/RECIPES.md "Kubernetes on one of these machines"): cgroup v1
# (failCgroupV1: false, cgroupfs), root without CAP_SYS_RESOURCE (restrict_oom_score_adj), swap.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

node_name=localhost
bridge=porterk8s0
subnet=10.244.77.0/24
lock=/run/porter-k8s-node.lock
# Paths outside DIR that the kubelet, containerd's CRI plugin or CNI write: removed by `down`
# when `up` created them.
shared_paths=(/var/log/pods /var/log/containers /var/lib/cni /run/containerd)

ctr_k8s() { ctr --address "$node/containerd.sock" --namespace k8s.io "$@"; }

node_ready() {
    [ "$(k8s_request "$dir/admin.kubeconfig" GET "/api/v1/nodes/$node_name")" = 200 ] &&
        [ "$(k8s_json '[c["status"] for c in o["status"]["conditions"] if c["type"] == "Ready"][0]')" = True ]
}

write_configs() { # KUBELET_PORT HEALTHZ_PORT
    mkdir -p "$node/cni/net.d" "$node/cni/ipam"
    cat >"$node/containerd.toml" <<EOF
version = 2
root = "$node/containerd/root"
state = "$node/containerd/state"
[grpc]
  address = "$node/containerd.sock"
[ttrpc]
  address = "$node/containerd.sock.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$node/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "localhost/porter-k8s/pause:test"
  # Root here lacks CAP_SYS_RESOURCE: without this every pod fails ("can't get final child's PID").
  restrict_oom_score_adj = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$node/cni/net.d"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "/usr/sbin/runc"
        Root = "$node/runc"
        SystemdCgroup = false
EOF
    # No gateway, no masquerading: the node only needs pods to have a network to be Ready.
    cat >"$node/cni/net.d/10-porter-k8s.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "porter-k8s",
  "plugins": [{
    "type": "bridge", "bridge": "$bridge", "isGateway": false, "ipMasq": false,
    "ipam": { "type": "host-local", "ranges": [[{ "subnet": "$subnet" }]],
              "dataDir": "$node/cni/ipam" }
  }]
}
EOF
    cat >"$node/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
port: $1
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $2
# Only the API server of this test cluster reaches it (127.0.0.1): no client certificates.
authentication:
  anonymous: { enabled: true }
  webhook: { enabled: false }
authorization: { mode: AlwaysAllow }
containerRuntimeEndpoint: unix://$node/containerd.sock
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
# The shared disk is often nearly full: neither images nor pods are evicted for it.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: { memory.available: 1Mi, nodefs.available: 1%, imagefs.available: 1% }
serializeImagePulls: false
staticPodPath: ""
resolvConf: /etc/resolv.conf
EOF
}

cmd_up() {
    local bin started kubelet_port healthz_port
    started=$(now_ms)
    bin=${PORTER_K8S_BIN:-}
    if [ -z "$bin" ] || ! [ -x "$bin/kubelet" ]; then
        bin=$("$here/build.sh" --with-node | tail -n1)
    fi
    [ "$(id -u)" -eq 0 ] || { k8s_log "error: a real node needs root (containerd, mounts, cgroups)"; return 1; }
    for tool in containerd runc ctr gcc umoci skopeo; do
        command -v "$tool" >/dev/null || { k8s_log "error: $tool is missing (scripts/setup.sh installs it)"; return 1; }
    done
    [ -x /usr/lib/cni/bridge ] || { k8s_log "error: /usr/lib/cni/bridge is missing (apt-get install containernetworking-plugins)"; return 1; }
    [ -f "$dir/admin.kubeconfig" ] || { k8s_log "error: $dir is not a cluster of cluster.sh"; return 1; }
    if ! mkdir "$lock" 2>/dev/null; then
        local owner
        owner=$(cat "$lock/owner" 2>/dev/null || true)
        if [ -n "$owner" ] && [ -d "$owner/node" ]; then
            k8s_log "error: the real node of $owner runs on this machine (one at a time; if its run crashed: $0 down $owner)"
            return 1
        fi
        k8s_log "taking over the stale lock of $owner"
    fi
    echo "$dir" >"$lock/owner"
    mkdir -p "$node/logs"
    : >"$node/pids"
    : >"$node/created"
    local path
    for path in "${shared_paths[@]}"; do
        [ -e "$path" ] || echo "$path" >>"$node/created"
    done
    # Network namespaces that exist now are not ours to remove.
    ls /run/netns 2>/dev/null >"$node/netns-before" || true
    K8S_BODY="$node/.response"
    read -r kubelet_port healthz_port <<<"$(free_ports 2)"
    write_configs "$kubelet_port" "$healthz_port"

    launch containerd containerd --config "$node/containerd.toml"
    wait_for containerd 30 ctr --address "$node/containerd.sock" version
    local images="$node/images"
    "$here/images.sh" base "$images" >/dev/null
    ctr_k8s images import "$images/pause.tar" >/dev/null
    ctr_k8s images import "$images/busybox.tar" >/dev/null
    rm -rf "$images"

    launch kubelet "$bin/kubelet" --config "$node/kubelet.yaml" \
        --kubeconfig "$dir/admin.kubeconfig" --hostname-override "$node_name" \
        --root-dir "$node/kubelet" --cert-dir "$node/kubelet/pki" --v 1
    wait_for "node $node_name" 120 node_ready
    # The API server taints a new node not-ready; the node lifecycle controller (absent here)
    # lifts it once the node is Ready. kwok's node is cordoned: every pod runs for real.
    echo '{"spec":{"taints":null}}' >"$node/untaint.merge-patch.json"
    k8s_expect 200 -- "$dir/admin.kubeconfig" PATCH "/api/v1/nodes/$node_name" "$node/untaint.merge-patch.json"
    if [ -f "$dir/env" ]; then
        local kwok
        kwok=$(sed -n 's/^PORTER_K8S_NODE=//p' "$dir/env")
        echo '{"spec":{"unschedulable":true}}' >"$node/cordon.merge-patch.json"
        [ -z "$kwok" ] || k8s_expect 200 -- "$dir/admin.kubeconfig" PATCH "/api/v1/nodes/$kwok" "$node/cordon.merge-patch.json"
        {
            echo "PORTER_K8S_REAL_NODE=$node_name"
            echo "PORTER_K8S_CONTAINERD=$node/containerd.sock"
        } >>"$dir/env"
    fi
    k8s_log "node $node_name Ready in $(seconds_since "$started") s (logs in $node/logs)"
}

cmd_load_agent() {
    local binary=$1 started
    started=$(now_ms)
    [ -S "$node/containerd.sock" ] || { k8s_log "error: no node runs for $dir"; return 1; }
    local images
    images=$(mktemp -d "$node/agent-image.XXXXXX")
    "$here/images.sh" agent "$images" "$binary" >/dev/null
    ctr_k8s images import "$images/agent.tar" >/dev/null
    rm -rf "$images"
    k8s_log "porter-sandbox:test imported in $(seconds_since "$started") s"
}

# Every process (containerd's shims) whose command line names this node's containerd socket.
shims() {
    local proc
    for proc in /proc/[0-9]*; do
        # A process may end between the listing and the read.
        { tr '\0' ' ' <"$proc/cmdline"; } 2>/dev/null | grep -qF -- "-address $node/containerd.sock " &&
            echo "${proc#/proc/}"
    done
}

cmd_down() {
    local started lines line name pid start
    started=$(now_ms)
    [ -d "$node" ] || return 0
    # The kubelet first: it would restart what is stopped below.
    if [ -f "$node/pids" ]; then
        mapfile -t lines < <(grep '^kubelet ' "$node/pids" || true)
        for line in "${lines[@]}"; do
            read -r name pid start <<<"$line"
            stop_recorded "$name" "$pid" "$start" 10
        done
    fi
    # Every container of the node, then containerd and the shims that outlive it.
    if [ -S "$node/containerd.sock" ] && ctr --address "$node/containerd.sock" version >/dev/null 2>&1; then
        local task
        for task in $(ctr_k8s tasks list -q 2>/dev/null); do
            ctr_k8s tasks kill -s SIGKILL "$task" >/dev/null 2>&1 || true
        done
        sleep 0.2
        for task in $(ctr_k8s tasks list -q 2>/dev/null); do
            ctr_k8s tasks delete -f "$task" >/dev/null 2>&1 || true
        done
    fi
    if [ -f "$node/pids" ]; then
        mapfile -t lines < <(tac "$node/pids")
        for line in "${lines[@]}"; do
            read -r name pid start <<<"$line"
            stop_recorded "$name" "$pid" "$start" 10
        done
    fi
    for pid in $(shims); do
        start=$(start_time "$pid") || continue
        stop_recorded containerd-shim "$pid" "$start" 10
    done
    wait 2>/dev/null || true
    # What stays mounted: containers' root filesystems, the CRI plugin's shm and namespaces.
    local mounts
    mapfile -t mounts < <(awk -v p="$node/" 'index($2, p) == 1 { print $2 }' /proc/self/mounts | sort -r)
    for line in "${mounts[@]}"; do umount -l "$line" 2>/dev/null || true; done
    local ns
    for ns in /run/netns/cni-*; do
        [ -e "$ns" ] || continue
        ns=${ns##*/}
        grep -qx "$ns" "$node/netns-before" 2>/dev/null && continue
        umount -l "/run/netns/$ns" 2>/dev/null || true
        rm -f "/run/netns/$ns"
    done
    ip link del "$bridge" 2>/dev/null || true
    # The pods' cgroups (the kubelet makes kubepods in every hierarchy): deepest first.
    local cgroup
    for cgroup in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods; do
        if [ -d "$cgroup" ]; then find "$cgroup" -depth -type d -exec rmdir {} + 2>/dev/null || true; fi
    done
    if [ -f "$node/created" ]; then
        while read -r path; do
            mapfile -t mounts < <(awk -v p="$path/" 'index($2, p) == 1 { print $2 }' /proc/self/mounts | sort -r)
            for line in "${mounts[@]}"; do umount -l "$line" 2>/dev/null || true; done
            rm -rf "$path"
        done <"$node/created"
    fi
    rm -rf "$node"
    if [ "$(cat "$lock/owner" 2>/dev/null)" = "$dir" ]; then rm -rf "$lock"; fi
    k8s_log "node down in $(seconds_since "$started") s"
}

up_failed() {
    [ "$1" -eq 0 ] && return
    k8s_log "node up failed: stopping what it started"
    local log
    for log in "$node"/logs/*.log; do
        [ -s "$log" ] || continue
        echo "--- $log (last lines)" >&2
        tail -n 15 "$log" >&2
    done
    cmd_down
}

usage() {
    echo "usage: $0 up DIR | load-agent DIR BINARY | down DIR" >&2
    exit 2
}

[ $# -ge 2 ] || usage
dir=$2
case "$dir" in
/*) ;;
*) dir="$PWD/$dir" ;;
esac
node="$dir/node"
K8S_RUN_DIR=$node
case "$1" in
up)
    [ $# -eq 2 ] || usage
    [ -e "$node" ] && { k8s_log "error: $node exists (a node runs already?)"; exit 1; }
    trap 'up_failed $?' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    cmd_up
    ;;
load-agent)
    [ $# -eq 3 ] || usage
    cmd_load_agent "$3"
    ;;
down) cmd_down ;;
*) usage ;;
esac

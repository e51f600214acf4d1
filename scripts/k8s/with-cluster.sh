#!/usr/bin/env bash
# Runs a command against a throwaway cluster of scripts/k8s/cluster.sh, then stops the cluster
# (also when the command fails or the run is interrupted); exits with the command's status.
#
#   scripts/k8s/with-cluster.sh [--real-node] COMMAND [ARG...]
#   e.g. scripts/k8s/with-cluster.sh cargo test -p porter-sandbox-server --test kubernetes
#
# --real-node adds a real node (scripts/k8s/node.sh: containerd + runc + kubelet, pods really
# run) and cordons kwok's; the env file then also has PORTER_K8S_REAL_NODE and
# PORTER_K8S_CONTAINERD. The binaries come from build.sh --with-node.
#
# The command sees the variables of the cluster's env file exported (KUBECONFIG_ADMIN,
# KUBECONFIG_SERVER, KUBECONFIG_RESTRICTED, PORTER_K8S_NAMESPACE, KUBE_API, KUBE_CA,
# PORTER_K8S_NODE) and PORTER_K8S_CLUSTER_DIR. Binaries are built on a cache miss first.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
real_node=""
if [ "${1:-}" = --real-node ]; then
    real_node=1
    shift
fi
[ $# -ge 1 ] || { echo "usage: $0 [--real-node] COMMAND [ARG...]" >&2; exit 2; }
if [ -n "$real_node" ] && [ -z "${PORTER_K8S_BIN:-}" ]; then
    PORTER_K8S_BIN=$("$here/build.sh" --with-node | tail -n1)
    export PORTER_K8S_BIN
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/porter-k8s.XXXXXX")
trap '"$here/cluster.sh" down "$dir"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
"$here/cluster.sh" up "$dir" >/dev/null
[ -z "$real_node" ] || "$here/node.sh" up "$dir"
set -a
# shellcheck disable=SC1091
. "$dir/env"
set +a
export PORTER_K8S_CLUSTER_DIR="$dir"
status=0
"$@" || status=$?
exit $status

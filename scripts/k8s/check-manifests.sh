#!/usr/bin/env bash
# Checks the manifests of deploy/ against a real API server (a cluster of scripts/k8s/cluster.sh):
# every object of deploy/*.yaml must pass a server-side dry run (schema with unknown fields
# refused, defaulting, admission, RBAC escalation checks) as the cluster admin, without a warning
# (the Deployment's pod template is held to its namespace's Pod Security level).
#
#   scripts/k8s/check-manifests.sh CLUSTER-DIR
#
# The namespaces the manifests use are created for real first (a dry run into a namespace that
# does not exist is refused); nothing else is stored.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

[ $# -eq 1 ] || { echo "usage: $0 CLUSTER-DIR" >&2; exit 2; }
admin="$1/admin.kubeconfig"
[ -f "$admin" ] || { k8s_log "error: no cluster in $1 (scripts/k8s/cluster.sh up $1)"; exit 1; }
K8S_BODY=$(mktemp)
trap 'rm -f "$K8S_BODY" "$K8S_BODY.headers"' EXIT

manifests=("$root"/deploy/*.yaml)
for manifest in "${manifests[@]}"; do
    K8S_ONLY_KINDS=Namespace K8S_EXISTING_OK=1 k8s_create_manifest "$admin" "$manifest"
done
for manifest in "${manifests[@]}"; do
    K8S_SKIP_KINDS=Namespace K8S_DRY_RUN=1 K8S_NO_WARNINGS=1 k8s_create_manifest "$admin" "$manifest"
    k8s_log "ok: ${manifest#"$root"/} passes a server-side dry run"
done

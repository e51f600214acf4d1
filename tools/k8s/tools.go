//go:build tools

// Package tools names the commands of k8s.io/kubernetes that scripts/k8s/build.sh builds, so
// that `go mod tidy` keeps every module they need in go.mod and go.sum. The kwok tier uses
// kube-apiserver and kube-scheduler; the kubelet and kube-controller-manager are pinned here
// for the real-node tier.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubelet"
)

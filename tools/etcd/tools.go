//go:build tools

// Package tools names the etcd server command (the main package at the root of
// go.etcd.io/etcd/server/v3) so that `go mod tidy` keeps its modules in go.mod and go.sum.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
)

//go:build tools

// Package tools names the kwok command so that `go mod tidy` keeps its modules in go.mod and
// go.sum.
package tools

import (
	_ "sigs.k8s.io/kwok/cmd/kwok"
)

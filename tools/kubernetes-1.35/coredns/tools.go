//go:build tools

// Package tools keeps CoreDNS's main package (the root of its module) in
// go.mod and go.sum; bundle.CoreDNSTool builds it.
package tools

import _ "github.com/coredns/coredns"

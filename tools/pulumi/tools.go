//go:build tools

// Package tools pins the Pulumi CLI that meshready drives through the
// Automation API. It is built from source because the only registry this
// project may rely on is the Go module proxy.
package tools

import _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"

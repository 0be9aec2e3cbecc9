//go:build tools

// Package tools pins fortio, Istio's load generator, for the mesh latency
// benchmark (METHODS.md: fortio client and server on two nodes). Real
// clusters run the fortio/fortio image of the same version; the local stack
// builds it here (bundle.FortioTool) into an image of its own.
package tools

import _ "fortio.org/fortio"

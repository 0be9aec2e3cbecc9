//go:build tools

// Package tools pins the Istio programs the local stack runs (bundle.IstioTool
// lists the same packages): istiod's pilot-discovery, and pilot-agent, which
// in proxyless gRPC pods serves certificates and xDS without an Envoy. The
// module proxy has istio.io/istio only as a development snapshot of 1.31.
package tools

import (
	_ "istio.io/istio/pilot/cmd/pilot-agent"
	_ "istio.io/istio/pilot/cmd/pilot-discovery"
)

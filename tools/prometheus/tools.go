//go:build tools

// Package tools pins the Prometheus server of Istio's Prometheus addon on the
// local stack (bundle.PrometheusTool builds it, and promtool, which tests
// meshready's alerting rules; without the builtinassets tag
// it serves its API and /metrics but not the web UI's files).
package tools

import (
	_ "github.com/prometheus/prometheus/cmd/prometheus"
	_ "github.com/prometheus/prometheus/cmd/promtool"
)

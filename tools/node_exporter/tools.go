//go:build tools

// Package tools pins node_exporter, which the Prometheus addon runs on
// every node to watch CPU steal after up (report.AlertRules). Real
// clusters run the quay.io/prometheus/node-exporter image of the same
// version; the local stack builds it here (bundle.NodeExporterTool) into an
// image of its own.
package tools

import _ "github.com/prometheus/node_exporter"

//go:build tools

// Package tools pins flannel, the default pod network (a VXLAN overlay).
// flanneld/ is the daemon meshready builds from flannel's packages (see
// its doc for why not flannel's own main); each node runs it as a systemd
// service, as k3s and k0s run flannel embedded.
package tools

import _ "github.com/flannel-io/flannel/pkg/backend/vxlan"

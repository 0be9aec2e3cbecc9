//go:build tools

// Package tools pins etcdutl, etcd's offline tool, for `meshready etcd
// restore` (etcd's documented restore: etcdutl snapshot restore on every
// member). It is etcd's own release of the version kubeadm runs
// (../kubernetes/go.mod pins the same etcd); meshready uploads it to the
// control planes for the restore, real and local alike.
package tools

import _ "go.etcd.io/etcd/etcdutl/v3"

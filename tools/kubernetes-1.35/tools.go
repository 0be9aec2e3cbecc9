//go:build tools

// Package tools keeps the main packages built from this module in go.mod and
// go.sum (go mod tidy considers every build tag): bundle.ToolFor("v1.35.4")
// lists the same packages; etcd is the module's own main beside this file,
// pause the module ../pause, CoreDNS the module ./coredns.
package tools

import (
	_ "github.com/meshready/meshready/tools/pause"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubeadm"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/cmd/kubelet"
)

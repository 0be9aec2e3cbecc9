//go:build tools

// Package tools keeps the main packages built from this module in go.mod and
// go.sum (go mod tidy considers every build tag). bundle.Tool lists the same
// packages; etcd and pause are the module's own mains beside this file, and
// CoreDNS is in the module ./coredns.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubeadm"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/cmd/kubelet"
)

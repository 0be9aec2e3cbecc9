// The pod sandbox's process of the local bundle, shared by every Kubernetes
// release's tools module (tools/kubernetes*), which require it through a
// replace: the pause image is the same (3.10.1) for all of them.
module github.com/meshready/meshready/tools/pause

go 1.26.6

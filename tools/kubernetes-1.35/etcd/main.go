// Command etcd is etcd's server, built here rather than from its module root
// (go.etcd.io/etcd/server/v3, also a main) so that go build names the binary
// etcd and not server, and so that it shares this module's build of the
// dependencies Kubernetes pins.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }

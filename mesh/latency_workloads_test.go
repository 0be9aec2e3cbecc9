package mesh

import (
	"os"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/meshready/meshready/internal/golden"
)

// TestLatencyWorkloads pins the five variants' objects: the baseline
// namespace not injected and without policies; the sidecar and proxyless
// namespaces injected, with their PeerAuthentication and the client TLS
// that matches it; server and client pinned to their nodes; the proxyless
// pods on Istio's grpc-agent template, running meshprobe.
func TestLatencyWorkloads(t *testing.T) {
	var objs []map[string]any
	for _, v := range LatencyVariants(true, true) {
		image := "fortio/fortio:1.67.1"
		if v.Proxyless {
			image = "meshready.local/meshprobe:v1"
		}
		objs = append(objs, LatencyWorkloads(v, image, "IfNotPresent", "worker-1", "worker-2")...)
	}
	b, err := yaml.Marshal(objs)
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "testdata/latency-workloads.yaml", b)
	if vs := LatencyVariants(false, false); len(vs) != 1 || vs[0].Name != "baseline" || vs[0].Sidecars {
		t.Errorf("without sidecars only the baseline runs: %+v", vs)
	}
	if vs := LatencyVariants(false, true); len(vs) != 3 || vs[1].Name != "proxyless-mtls" || vs[2].MTLS != "DISABLE" || vs[1].Sidecars {
		t.Errorf("without sidecars, with the probe: the baseline and the proxyless pair: %+v", vs)
	}
}

func TestLoadCommand(t *testing.T) {
	got := strings.Join(LoadCommand(LatencyVariants(true, false)[1], LoadOptions{QPS: 1000, Connections: 16, Duration: 240 * time.Second, PayloadBytes: 1024}), " ")
	want := "fortio load -qps 1000 -c 16 -t 4m0s -payload-size 1024 -uniform -p 50,90,99,99.9 -json - " +
		"http://fortio-server.meshready-latency-mtls.svc.cluster.local:8080/echo"
	if got != want {
		t.Errorf("load command\n got %s\nwant %s", got, want)
	}
}

// TestLatencyNodes reads kubectl's node list recorded on the local cluster
// (one control plane, two workers): the two workers, by name; fewer nodes
// or not Ready ones are handled.
func TestLatencyNodes(t *testing.T) {
	b, err := os.ReadFile("testdata/latency/nodes.json")
	if err != nil {
		t.Fatal(err)
	}
	client, server, same, err := LatencyNodes(string(b))
	if err != nil || client != "local-worker-1" || server != "local-worker-2" || same {
		t.Errorf("nodes: %q %q same=%v err=%v", client, server, same, err)
	}
	one := `{"items":[{"metadata":{"name":"cp","labels":{"node-role.kubernetes.io/control-plane":""}},"status":{"conditions":[{"type":"Ready","status":"True"}]}},
	  {"metadata":{"name":"w","labels":{}},"status":{"conditions":[{"type":"Ready","status":"False"}]}}]}`
	if client, server, same, err := LatencyNodes(one); err != nil || client != "cp" || server != "cp" || !same {
		t.Errorf("one Ready node: %q %q same=%v err=%v", client, server, same, err)
	}
	two := `{"items":[{"metadata":{"name":"cp","labels":{"node-role.kubernetes.io/control-plane":""}},"status":{"conditions":[{"type":"Ready","status":"True"}]}},
	  {"metadata":{"name":"w","labels":{}},"status":{"conditions":[{"type":"Ready","status":"True"}]}}]}`
	if client, server, _, err := LatencyNodes(two); err != nil || client != "w" || server != "cp" {
		t.Errorf("a worker and a control plane: %q %q err=%v", client, server, err)
	}
	labelled := `{"items":[{"metadata":{"name":"node-a.example","labels":{"kubernetes.io/hostname":"node-a"}},"status":{"conditions":[{"type":"Ready","status":"True"}]}},
	  {"metadata":{"name":"node-b.example","labels":{"kubernetes.io/hostname":"node-b"}},"status":{"conditions":[{"type":"Ready","status":"True"}]}},
	  {"metadata":{"name":"node-c","labels":{}},"spec":{"unschedulable":true},"status":{"conditions":[{"type":"Ready","status":"True"}]}}]}`
	if client, server, _, err := LatencyNodes(labelled); err != nil || client != "node-a" || server != "node-b" {
		t.Errorf("hostname labels, a cordoned node: %q %q err=%v", client, server, err)
	}
	if _, _, _, err := LatencyNodes(`{"items":[]}`); err == nil {
		t.Error("no node must be an error")
	}
	if _, _, _, err := LatencyNodes(`not json`); err == nil {
		t.Error("bad JSON must be an error")
	}
}

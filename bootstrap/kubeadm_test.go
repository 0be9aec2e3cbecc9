package bootstrap

import (
	"bytes"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/meshready/meshready/config"
	"github.com/meshready/meshready/internal/golden"
)

// Obvious test values, never real secrets: kubeadm's documented example token,
// a counting certificate key and an all-zero CA pin.
const (
	testToken   = "abcdef.0123456789abcdef"
	testCertKey = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	testCAHash  = "sha256:0000000000000000000000000000000000000000000000000000000000000000"
)

// testParams is a control plane of a 3-member cluster across regions (80 ms RTT p99),
// so the goldens carry tuned etcd timings: heartbeat 120 ms, election 1200 ms.
func testParams(t *testing.T, version string) ClusterParams {
	t.Helper()
	tun, err := TuneEtcd(Measured{PeerRTTP99: 80 * time.Millisecond, FdatasyncP99: 2 * time.Millisecond, ControlPlanes: 3}, config.Etcd{})
	if err != nil {
		t.Fatal(err)
	}
	return ClusterParams{
		KubernetesVersion:     config.Version(version),
		ClusterName:           "meshready-test",
		ControlPlaneEndpoint:  "10.213.0.11:6443",
		AdvertiseAddress:      "10.213.0.11",
		NodeName:              "cp-1",
		PodSubnet:             "10.244.0.0/16",
		ServiceSubnet:         "10.96.0.0/12",
		Etcd:                  tun,
		BootstrapToken:        testToken,
		CertificateKey:        testCertKey,
		IgnorePreflightErrors: []string{"Mem"},
		NodeLabels:            map[string]string{"topology.kubernetes.io/region": "hel1", "meshready/pool": "bench"},
	}
}

func renderCase(t *testing.T, name string) []byte {
	t.Helper()
	var out []byte
	var err error
	switch name {
	case "init-v1.21.14", "init-v1.28.15", "init-v1.34.4":
		out, err = RenderInit(testParams(t, strings.TrimPrefix(name, "init-v")))
	case "join-worker-v1.34.4":
		p := testParams(t, "1.34.4")
		p.NodeName, p.AdvertiseAddress, p.CertificateKey, p.NodeLabels = "worker-1", "10.213.0.21", "", nil
		out, err = RenderJoin(p, false, testCAHash)
	case "init-private-network-v1.34.4":
		p := testParams(t, "1.34.4")
		p.ControlPlaneEndpoint, p.AdvertiseAddress, p.CertSANs = "10.0.1.2:6443", "10.0.1.2", []string{"203.0.113.7"}
		out, err = RenderInit(p)
	case "init-no-workers-v1.34.4":
		p := testParams(t, "1.34.4")
		p.Schedulable = true
		out, err = RenderInit(p)
	case "join-control-plane-v1.34.4":
		p := testParams(t, "1.34.4")
		p.NodeName, p.AdvertiseAddress, p.NodeLabels = "cp-2", "10.213.0.12", nil
		out, err = RenderJoin(p, true, testCAHash)
	}
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var cases = []string{"init-v1.21.14", "init-v1.28.15", "init-v1.34.4", "init-no-workers-v1.34.4", "init-private-network-v1.34.4", "join-worker-v1.34.4", "join-control-plane-v1.34.4"}

func TestRenderGolden(t *testing.T) {
	for _, name := range cases {
		t.Run(name, func(t *testing.T) {
			golden.Check(t, filepath.Join("testdata", name+".yaml"), renderCase(t, name))
		})
	}
}

// TestRenderParsesBack reads each rendered stream as kubeadm would see it:
// the right kinds in the right API, and etcd's tuned timings in the form the API takes.
func TestRenderParsesBack(t *testing.T) {
	wantDocs := map[string][]string{
		"init-v1.21.14":                {apiV1beta2 + " InitConfiguration", apiV1beta2 + " ClusterConfiguration", "kubelet.config.k8s.io/v1beta1 KubeletConfiguration"},
		"init-v1.28.15":                {apiV1beta3 + " InitConfiguration", apiV1beta3 + " ClusterConfiguration", "kubelet.config.k8s.io/v1beta1 KubeletConfiguration"},
		"init-v1.34.4":                 {apiV1beta4 + " InitConfiguration", apiV1beta4 + " ClusterConfiguration", "kubelet.config.k8s.io/v1beta1 KubeletConfiguration"},
		"init-no-workers-v1.34.4":      {apiV1beta4 + " InitConfiguration", apiV1beta4 + " ClusterConfiguration", "kubelet.config.k8s.io/v1beta1 KubeletConfiguration"},
		"init-private-network-v1.34.4": {apiV1beta4 + " InitConfiguration", apiV1beta4 + " ClusterConfiguration", "kubelet.config.k8s.io/v1beta1 KubeletConfiguration"},
		"join-worker-v1.34.4":          {apiV1beta4 + " JoinConfiguration"},
		"join-control-plane-v1.34.4":   {apiV1beta4 + " JoinConfiguration"},
	}
	for _, name := range cases {
		t.Run(name, func(t *testing.T) {
			dec := yaml.NewDecoder(bytes.NewReader(renderCase(t, name)))
			var got []string
			for {
				var doc map[string]any
				if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
					break
				} else if err != nil {
					t.Fatal(err)
				}
				got = append(got, doc["apiVersion"].(string)+" "+doc["kind"].(string))
				switch doc["kind"] {
				case "InitConfiguration":
					// Without workers the control plane must take workloads: an explicit empty list.
					taints, has := doc["nodeRegistration"].(map[string]any)["taints"]
					if want := strings.Contains(name, "no-workers"); has != want || (has && len(taints.([]any)) != 0) {
						t.Errorf("nodeRegistration.taints = %v (present %v), want present=%v and empty", taints, has, want)
					}
				case "ClusterConfiguration":
					local := doc["etcd"].(map[string]any)["local"].(map[string]any)
					args := argsOf(t, local["extraArgs"], doc["apiVersion"] == apiV1beta4)
					if args["heartbeat-interval"] != "120" || args["election-timeout"] != "1200" {
						t.Errorf("etcd extraArgs = %v, want heartbeat-interval 120 and election-timeout 1200", args)
					}
					if local["dataDir"] != "/var/lib/etcd" {
						t.Errorf("etcd dataDir = %v", local["dataDir"])
					}
				case "KubeletConfiguration":
					if doc["failSwapOn"] != true || doc["cgroupDriver"] != "systemd" {
						t.Errorf("kubelet config = %v, want failSwapOn true, cgroupDriver systemd", doc)
					}
				case "JoinConfiguration":
					_, isCP := doc["controlPlane"]
					if isCP != strings.Contains(name, "control-plane") {
						t.Errorf("controlPlane present = %v", isCP)
					}
				}
			}
			if strings.Join(got, "\n") != strings.Join(wantDocs[name], "\n") {
				t.Errorf("documents = %q, want %q", got, wantDocs[name])
			}
		})
	}
}

// argsOf reads extraArgs in either wire form, failing if the form is not the API's.
func argsOf(t *testing.T, v any, list bool) map[string]any {
	t.Helper()
	out := map[string]any{}
	if !list {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("extraArgs is %T, want a map before v1beta4", v)
		}
		return m
	}
	l, ok := v.([]any)
	if !ok {
		t.Fatalf("extraArgs is %T, want a list in v1beta4", v)
	}
	for _, e := range l {
		a := e.(map[string]any)
		out[a["name"].(string)] = a["value"]
	}
	return out
}

func TestKubeadmAPI(t *testing.T) {
	for v, want := range map[string]string{
		"1.21.0": apiV1beta2, "1.21.14": apiV1beta2, "1.22.0": apiV1beta3, "1.30.14": apiV1beta3,
		"1.31.0": apiV1beta4, "v1.34.4": apiV1beta4,
	} {
		if got, _, err := kubeadmAPI(config.Version(v)); err != nil || got != want {
			t.Errorf("kubeadmAPI(%s) = %s, %v; want %s", v, got, err, want)
		}
	}
}

func TestRenderRejects(t *testing.T) {
	tests := []struct {
		name   string
		edit   func(*ClusterParams)
		join   bool
		cp     bool
		hash   string
		errHas string
	}{
		{"unparsable version", func(p *ClusterParams) { p.KubernetesVersion = "1.34" }, false, false, "", `"1.34" is not MAJOR.MINOR.PATCH`},
		{"version below 1.21", func(p *ClusterParams) { p.KubernetesVersion = "1.20.15" }, false, false, "", "older than 1.21"},
		{"empty advertise address", func(p *ClusterParams) { p.AdvertiseAddress = "" }, false, false, "", "AdvertiseAddress is empty"},
		{"advertise address not an IP", func(p *ClusterParams) { p.AdvertiseAddress = "cp-1.example" }, false, false, "", "is not a node's IP"},
		{"upper-case token", func(p *ClusterParams) { p.BootstrapToken = "ABCDEF.0123456789abcdef" }, false, false, "", "BootstrapToken is not in kubeadm's format"},
		{"short token", func(p *ClusterParams) { p.BootstrapToken = "abcdef.0123" }, true, false, testCAHash, "BootstrapToken is not in kubeadm's format"},
		{"certificate name that is neither", func(p *ClusterParams) { p.CertSANs = []string{"203.0.113.7\nx: y"} }, false, false, "", "is neither an IP address nor a DNS name"},
		{"endpoint without port", func(p *ClusterParams) { p.ControlPlaneEndpoint = "10.213.0.11" }, false, false, "", "is not host:port"},
		{"no etcd tuning", func(p *ClusterParams) { p.Etcd = EtcdTuning{} }, false, false, "", "pass TuneEtcd's result"},
		{"ignore all preflight errors", func(p *ClusterParams) { p.IgnorePreflightErrors = []string{"all"} }, false, false, "", `"all" is not a single check's name`},
		{"Never on 1.21", func(p *ClusterParams) { p.KubernetesVersion, p.ImagePullPolicy = "1.21.14", "Never" }, false, false, "", "needs kubeadm's v1beta3 API"},
		{"restricted node label", func(p *ClusterParams) { p.NodeLabels = map[string]string{"node-role.kubernetes.io/worker": ""} }, false, false, "", "may not set node-role.kubernetes.io/worker"},
		{"bad CA hash", func(p *ClusterParams) {}, true, false, "sha256:abc", "is not sha256:<64 hex digits>"},
		{"control plane without certificate key", func(p *ClusterParams) { p.CertificateKey = "" }, true, true, testCAHash, "CertificateKey is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testParams(t, "1.34.4")
			tt.edit(&p)
			var err error
			if tt.join {
				_, err = RenderJoin(p, tt.cp, tt.hash)
			} else {
				_, err = RenderInit(p)
			}
			if err == nil || !strings.Contains(err.Error(), tt.errHas) {
				t.Fatalf("error = %v, want it to contain %q", err, tt.errHas)
			}
			for _, secret := range []string{p.BootstrapToken.Reveal(), p.CertificateKey.Reveal()} {
				if secret != "" && strings.Contains(err.Error(), secret) {
					t.Errorf("error shows a secret: %v", err)
				}
			}
		})
	}
}

func TestContainerNodesSkipConntrackSysctls(t *testing.T) {
	p := testParams(t, "1.34.4")
	p.SkipConntrackSysctls = true
	out, err := RenderInit(p)
	if err != nil {
		t.Fatal(err)
	}
	docs := strings.Split(string(out), "\n---\n")
	last := docs[len(docs)-1]
	if !strings.Contains(last, "kind: KubeProxyConfiguration") || !strings.Contains(last, "maxPerCore: 0") ||
		!strings.Contains(last, "tcpEstablishedTimeout: 0s") {
		t.Errorf("no kube-proxy conntrack override in:\n%s", last)
	}
	p.SkipConntrackSysctls = false
	if out, _ := RenderInit(p); strings.Contains(string(out), "KubeProxyConfiguration") {
		t.Errorf("real nodes must keep kube-proxy's defaults")
	}
	p.SharedHostDisk = true
	out, _ = RenderInit(p)
	if !strings.Contains(string(out), "imagefs.available: 0%") || !strings.Contains(string(out), "imageGCHighThresholdPercent: 100") {
		t.Errorf("container nodes must not evict for the host's disk:\n%s", out)
	}
	p.SharedHostDisk = false
	if out, _ := RenderInit(p); strings.Contains(string(out), "evictionHard") {
		t.Errorf("real nodes must keep the kubelet's eviction defaults")
	}
	p.CgroupV1 = true
	if out, _ := RenderInit(p); !strings.Contains(string(out), "failCgroupV1: false") {
		t.Errorf("a kubelet on a cgroup v1 tree must be let run:\n%s", out)
	}
	p.KubernetesVersion = "1.28.15"
	if out, _ := RenderInit(p); strings.Contains(string(out), "failCgroupV1") {
		t.Errorf("kubelet 1.28 has no failCgroupV1:\n%s", out)
	}
	p.CgroupV1, p.KubernetesVersion = false, "1.35.4"
	if out, _ := RenderInit(p); strings.Contains(string(out), "failCgroupV1") {
		t.Errorf("real nodes keep the kubelet's cgroup v1 default")
	}
}

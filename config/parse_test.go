package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func raw(kv ...string) Raw {
	r := Raw{Values: map[string]string{}, Secrets: map[string]bool{}}
	for i := 0; i+1 < len(kv); i += 2 {
		r.Values[kv[i]] = kv[i+1]
	}
	return r
}

func TestParseGood(t *testing.T) {
	cfg, err := Parse(raw(
		"meshready:region", "local",
		"meshready:nodes", `{"controlPlanes":3,"workers":0}`,
		"meshready:etcd", `{"heartbeatInterval":"150ms","electionTimeout":"auto","snapshotCount":10000,"ionice":true}`,
		"meshready:istio", `{"injectNamespaces":["shop"],"mtls":"PERMISSIVE"}`,
		"meshready:canary", `[{"service":"cart","namespace":"shop","subsets":{"v1":90,"v2":10}}]`,
		"meshready:addons", `["prometheus","kiali"]`,
		"meshready:benchmarks", `{"stealLoaded":"45s"}`,
		"aws:region", "ignored: other namespaces are not meshready's",
	))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if cfg.Nodes.ControlPlanes != 3 || cfg.Nodes.Workers != 0 {
		t.Errorf("nodes = %+v", cfg.Nodes)
	}
	if got := cfg.Etcd.HeartbeatInterval; !got.Set || got.Value.D() != 150*time.Millisecond {
		t.Errorf("heartbeatInterval = %+v", got)
	}
	if !cfg.Etcd.ElectionTimeout.IsAuto() || cfg.Etcd.QuotaBackendBytes.Set {
		t.Errorf("auto knobs were set: %+v", cfg.Etcd)
	}
	if v := cfg.Etcd.SnapshotCount; !v.Set || v.Value != 10000 {
		t.Errorf("snapshotCount = %+v", v)
	}
	if cfg.Canary[0].Subsets["v2"] != 10 {
		t.Errorf("canary = %+v", cfg.Canary)
	}
	if cfg.Benchmarks.StealLoaded.D() != 45*time.Second || cfg.Benchmarks.StealIdle.D() != 10*time.Second {
		t.Errorf("benchmarks durations = %+v (default kept for stealIdle?)", cfg.Benchmarks)
	}
	if cfg.Kubernetes.Version != "1.34.4" || cfg.Provider != ProviderLocal {
		t.Errorf("defaults lost: %+v %+v", cfg.Kubernetes, cfg.Provider)
	}
}

func TestParseStaticAndHetzner(t *testing.T) {
	r := raw(
		"meshready:region", "oslo",
		"meshready:provider", "static",
		"meshready:nodes", `{"controlPlanes":1,"workers":1,"static":[
			{"address":"192.0.2.10","user":"root","port":22,"hostKey":"SHA256:abc"},
			{"address":"node2.example.net","user":"admin","hostKey":"ssh-ed25519 AAAA"}]}`)
	if _, err := Parse(r); err != nil {
		t.Fatalf("static: %v", err)
	}
	h := raw("meshready:region", "hel1", "meshready:provider", "hetzner",
		"meshready:nodes", `{"serverType":"ccx13","image":"debian-12"}`, "hetzner:token", "tok-123")
	h.Secrets["hetzner:token"] = true
	cfg, err := Parse(h)
	if err != nil {
		t.Fatalf("hetzner: %v", err)
	}
	if s := fmt.Sprintf("%v %+v %#v", cfg.Hetzner.Token, cfg.Hetzner, cfg.Hetzner.Token); strings.Contains(s, "tok-123") {
		t.Errorf("token printed: %s", s)
	}
	if cfg.Hetzner.Token.Reveal() != "tok-123" {
		t.Errorf("token lost")
	}
}

func TestParseBad(t *testing.T) {
	cases := []struct {
		name string
		in   Raw
		want []string // every line must appear
	}{
		{"weights sum", raw("meshready:region", "x", "meshready:istio", `{"injectNamespaces":["shop"]}`,
			"meshready:canary", `[{"service":"cart","namespace":"shop","subsets":{"v1":90,"v2":15}}]`),
			[]string{"meshready:canary[0].subsets: weights sum to 105, want 100"}},
		{"fractional weight", raw("meshready:region", "x", "meshready:istio", `{"injectNamespaces":["shop"]}`,
			"meshready:canary", `[{"service":"cart","namespace":"shop","subsets":{"v1":89.5,"v2":10.5}}]`),
			[]string{"meshready:canary[0].subsets[v", ": want a whole number, got "}},
		{"even control planes", raw("meshready:region", "x", "meshready:nodes", `{"controlPlanes":2}`),
			[]string{"meshready:nodes.controlPlanes: must be 1, 3 or 5 (etcd needs an odd number of members), got 2"}},
		{"old kubernetes", raw("meshready:region", "x", "meshready:kubernetes", `{"version":"1.20.15"}`),
			[]string{"meshready:kubernetes.version: 1.20.15 is below the minimum 1.21"}},
		{"version as YAML number", raw("meshready:region", "x", "meshready:kubernetes", `{"version":1.2}`),
			[]string{"meshready:kubernetes.version: write the version as a quoted string"}},
		{"unknown top key", raw("meshready:region", "x", "meshready:regoin", "y"),
			[]string{"meshready:regoin: unknown key"}},
		{"unknown nested key", raw("meshready:region", "x", "meshready:nodes", `{"controlplanes":1}`),
			[]string{"meshready:nodes.controlplanes: unknown key"}},
		{"unknown key in list", raw("meshready:region", "x", "meshready:provider", "static",
			"meshready:nodes", `{"workers":0,"static":[{"address":"192.0.2.1","hostkey":"SHA256:x"}]}`),
			[]string{"meshready:nodes.static[0].hostkey: unknown key"}},
		{"missing region and bad provider", raw("meshready:provider", "aws"),
			[]string{"meshready:region: required", `meshready:provider: "aws" is not one of local, static, hetzner`}},
		{"static count", raw("meshready:region", "oslo", "meshready:provider", "static", "meshready:nodes", `{"workers":1,"static":[]}`),
			[]string{"meshready:nodes.static: lists 0 servers, want 2"}},
		{"hetzner needs a secret token", raw("meshready:region", "hel2", "meshready:provider", "hetzner", "hetzner:token", "plain"),
			[]string{"hetzner:token: must be a secret", `meshready:region: "hel2" is not a Hetzner location`, "meshready:nodes.serverType: required"}},
		{"wrong type", raw("meshready:region", "x", "meshready:nodes", `{"workers":"two"}`),
			[]string{"meshready:nodes.workers: expected type int"}},
		{"etcd", raw("meshready:region", "x", "meshready:etcd", `{"heartbeatInterval":"200ms","electionTimeout":"1s","snapshotCount":0,"quotaBackendBytes":"auto","autoCompactionMode":"hourly"}`),
			[]string{"meshready:etcd.electionTimeout: 1s is less than 10 x heartbeatInterval (200ms)", "meshready:etcd.snapshotCount: must be positive", "meshready:etcd.autoCompactionMode"}},
		{"duration without unit", raw("meshready:region", "x", "meshready:etcd", `{"heartbeatInterval":100}`),
			[]string{"meshready:etcd.heartbeatInterval: want \"auto\" or a value: 100 has no unit"}},
		{"canary outside the mesh", raw("meshready:region", "x",
			"meshready:canary", `[{"service":"cart","namespace":"shop","subsets":{"v1":100}}]`),
			[]string{`meshready:canary[0].namespace: "shop" is not in meshready:istio.injectNamespaces`}},
		{"addons", raw("meshready:region", "x", "meshready:addons", `["kiali","grafana"]`),
			[]string{`meshready:addons[1]: "grafana" is not an addon`, "meshready:addons: kiali reads its graphs from Prometheus"}},
		{"subnets overlap", raw("meshready:region", "x", "meshready:kubernetes", `{"podSubnet":"10.213.0.0/16"}`),
			[]string{"meshready:kubernetes.podSubnet: 10.213.0.0/16 overlaps meshready:local.subnet"}},
		{"pod network over the Hetzner network", raw("meshready:region", "x", "meshready:provider", "hetzner",
			"meshready:kubernetes", `{"podSubnet":"10.0.0.0/12"}`),
			[]string{"meshready:kubernetes.podSubnet: 10.0.0.0/12 overlaps the Hetzner private network (10.0.0.0/16)"}},
		{"static server inside the service network", raw("meshready:region", "x", "meshready:provider", "static",
			"meshready:nodes", `{"controlPlanes":1,"workers":0,"static":[{"address":"10.96.0.20","hostKey":"SHA256:x"}]}`),
			[]string{"meshready:kubernetes.serviceSubnet: 10.96.0.0/12 holds nodes.static[0]'s address 10.96.0.20"}},
		{"3 control planes without measurements", raw("meshready:region", "x", "meshready:nodes", `{"controlPlanes":3,"workers":0}`,
			"meshready:benchmarks", `{"enabled":false,"gate":false}`),
			[]string{"meshready:etcd.heartbeatInterval: auto needs the peer RTT the benchmarks measure"}},
		{"mesh source and namespace modes", raw("meshready:region", "x", "meshready:istio",
			`{"chartRepository":"istio-release","injectNamespaces":["demo"],"namespaceMTLS":{"demo":"strict","shop":"PERMISSIVE"}}`),
			[]string{`meshready:istio.chartRepository: "istio-release" is not an https:// or oci:// URL`,
				`meshready:istio.namespaceMTLS.demo: "strict" is not STRICT or PERMISSIVE`,
				`meshready:istio.namespaceMTLS.shop: "shop" is not in meshready:istio.injectNamespaces`}},
		{"allowed CIDRs", raw("meshready:region", "hel1", "meshready:provider", "hetzner", "hetzner:token", "t",
			"meshready:nodes", `{"serverType":"ccx13","image":"debian-12","allowedCIDRs":["203.0.113.0/24","10.0.0.1/8","any;reboot"]}`),
			[]string{`meshready:nodes.allowedCIDRs[1]: "10.0.0.1/8" is not a network prefix`, `meshready:nodes.allowedCIDRs[2]: "any;reboot" is not a network prefix`}},
		{"allowed CIDRs off hetzner", raw("meshready:region", "x", "meshready:nodes", `{"allowedCIDRs":["203.0.113.0/24"]}`),
			[]string{"meshready:nodes.allowedCIDRs: only the hetzner provider makes a firewall"}},
		{"istio canary", raw("meshready:region", "x", "meshready:istio",
			`{"injectNamespaces":["demo","shop"],"canary":{"version":"1.29.0;id","namespaces":["demo","web","demo"]}}`),
			[]string{`meshready:istio.canary.version: "1.29.0;id" is not MAJOR.MINOR.PATCH`,
				`meshready:istio.canary.namespaces[1]: "web" is not in istio.injectNamespaces, or is listed twice`,
				`meshready:istio.canary.namespaces[2]: "demo" is not in istio.injectNamespaces, or is listed twice`}},
		{"istio canary on its own version", raw("meshready:region", "x", "meshready:istio",
			`{"version":"1.28.0","injectNamespaces":["demo"],"canary":{"version":"1.28.0","namespaces":["demo"]}}`),
			[]string{`meshready:istio.canary.version: "1.28.0" is istio.version already`}},
		{"istio canary without a version", raw("meshready:region", "x", "meshready:istio", `{"injectNamespaces":["demo"],"canary":{"namespaces":["demo"]}}`),
			[]string{`meshready:istio.canary.version: required with istio.canary.namespaces`}},
		// Values that reach a shell, a path or a URL: each refused with its key.
		{"hostile values", raw("meshready:region", "x",
			"meshready:benchmarks", "{\"dir\":\"/var/lib\\ntouch /tmp/x\"}",
			"meshready:kubernetes", `{"version":"1.+34.4","kubeconfigFile":"../../.ssh/authorized_keys"}`,
			"meshready:istio", `{"chartRepository":"http://istio-release.example/charts"}`),
			[]string{`meshready:benchmarks.dir: "/var/lib\ntouch /tmp/x" must be a clean absolute path`,
				`meshready:kubernetes.version: "1.+34.4" is not MAJOR.MINOR.PATCH`,
				`meshready:kubernetes.kubeconfigFile: "../../.ssh/authorized_keys" must be a path inside the project`,
				`meshready:istio.chartRepository: "http://istio-release.example/charts" is not an https:// or oci:// URL`}},
		{"more hostile values", raw("meshready:region", "x",
			"meshready:benchmarks", `{"dir":"/var/../etc"}`,
			"meshready:kubernetes", `{"version":"01.34.4","kubeconfigFile":"/root/.bashrc"}`,
			"meshready:istio", `{"chartRepository":"https://user:pw@charts.example"}`),
			[]string{`meshready:benchmarks.dir: "/var/../etc" must be a clean absolute path`,
				`meshready:kubernetes.version: "01.34.4" is not MAJOR.MINOR.PATCH`,
				`meshready:kubernetes.kubeconfigFile: "/root/.bashrc" must be a path inside the project`,
				`meshready:istio.chartRepository: "https://user:pw@charts.example" is not an https:// or oci:// URL`}},
		{"mtls", raw("meshready:region", "x", "meshready:istio", `{"mtls":"strict"}`),
			[]string{`meshready:istio.mtls: "strict" is not STRICT or PERMISSIVE`}},
		{"sidecar checks", raw("meshready:region", "x", "meshready:istio", `{"enabled":true,"sidecarChecks":true,"injectNamespaces":["demo"]}`,
			"meshready:canary", `[{"service":"echo","namespace":"demo","subsets":{"v1":100}}]`),
			[]string{"meshready:istio.sidecarChecks: no Envoy exists offline", "meshready:istio.probeImage: required with sidecarChecks",
				"meshready:canary[0].subsets: the mesh checks need two subsets"}},
		{"both checks", raw("meshready:region", "x", "meshready:istio", `{"proxylessChecks":true,"sidecarChecks":true}`),
			[]string{"meshready:istio.sidecarChecks: choose one"}},
		{"probe image alone", raw("meshready:region", "x", "meshready:istio", `{"probeImage":"r.example/meshprobe:1"}`),
			[]string{"meshready:istio.probeImage: is used only with istio.sidecarChecks"}},
		{"mesh latency", raw("meshready:region", "x", "meshready:istio", `{"enabled":true}`,
			"meshready:benchmarks", `{"meshLatency":{"duration":"2s","qps":0,"connections":2000,"payloadBytes":-1}}`),
			[]string{"meshready:benchmarks.meshLatency.duration: 2s is outside 5s..30m", "meshready:benchmarks.meshLatency.qps: 0 is outside",
				"meshready:benchmarks.meshLatency.connections: 2000 is outside", "meshready:benchmarks.meshLatency.payloadBytes: -1 is outside"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.in)
			var probs Problems
			if !errors.As(err, &probs) {
				t.Fatalf("want Problems, got %v", err)
			}
			got := err.Error()
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("missing %q in:\n%s", w, got)
				}
			}
		})
	}
}

func TestEtcdRoundTripsThroughJSON(t *testing.T) {
	cfg, err := Parse(raw("meshready:region", "x", "meshready:etcd", `{"heartbeatInterval":"150ms","snapshotCount":5000}`))
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(cfg.Etcd)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Parse(raw("meshready:region", "x", "meshready:etcd", string(b)))
	if err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	if again.Etcd != cfg.Etcd {
		t.Errorf("round trip: %s gave %+v, want %+v", b, again.Etcd, cfg.Etcd)
	}
}

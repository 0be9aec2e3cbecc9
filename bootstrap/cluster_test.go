package bootstrap

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meshready/meshready/config"
	"github.com/meshready/meshready/remote"
)

// fakeRunner answers the few commands whose output Bootstrap reads and
// records every script it was given, in order.
type fakeRunner struct {
	host  string
	mu    *sync.Mutex
	log   *[]string
	caPEM []byte
	nodes string
	// seen has every command whole, and every upload as "upload PATH MODE\nDATA".
	seen *[]string
}

func (f fakeRunner) Host() string { return f.host }
func (f fakeRunner) Close() error { return nil }
func (f fakeRunner) Upload(_ context.Context, path string, data []byte, mode os.FileMode) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.seen != nil {
		*f.seen = append(*f.seen, fmt.Sprintf("upload %s %o\n%s", path, mode, data))
	}
	return nil
}

func (f fakeRunner) Run(_ context.Context, cmd string, _ ...remote.RunOption) (remote.Result, error) {
	f.mu.Lock()
	if f.seen != nil {
		*f.seen = append(*f.seen, cmd)
	}
	f.mu.Unlock()
	cmd = strings.ReplaceAll(cmd, "'", "") // kubectl's arguments arrive quoted
	first, _, _ := strings.Cut(strings.TrimSpace(cmd), "\n")
	f.mu.Lock()
	*f.log = append(*f.log, f.host+": "+first)
	f.mu.Unlock()
	switch {
	case strings.HasPrefix(cmd, "cat /etc/kubernetes/pki/ca.crt"):
		return remote.Result{Stdout: f.caPEM}, nil
	case strings.Contains(cmd, "get nodes -o json"):
		return remote.Result{Stdout: []byte(f.nodes)}, nil
	case strings.Contains(cmd, "get pods -A -o json"):
		return remote.Result{Stdout: []byte(`{"items":[]}`)}, nil
	case strings.Contains(cmd, "k8s-app=kube-dns"):
		return remote.Result{Stdout: []byte("pod/coredns-1\n")}, nil
	case strings.HasPrefix(cmd, "sha256sum /usr/local/bin/flanneld"):
		if f.host == "s-cp-1" { // has it already
			return remote.Result{Stdout: []byte(testFlanneldSHA + "\n")}, nil
		}
		return remote.Result{}, nil
	case strings.HasPrefix(cmd, "# meshready flannels access"):
		return remote.Result{Stdout: []byte("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln")}, nil
	case strings.HasPrefix(cmd, "# meshready flannel on"):
		third := map[string]string{"s-cp-1": "0", "s-worker-1": "1"}[f.host]
		return remote.Result{Stdout: []byte("FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244." + third + ".1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n")}, nil
	case strings.HasPrefix(cmd, "cat /etc/kubernetes/admin.conf"):
		return remote.Result{Stdout: []byte("apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    server: https://10.213.0.2:6443\n  name: kubernetes\n")}, nil
	}
	return remote.Result{}, nil
}

func testCA(t *testing.T) ([]byte, string) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kubernetes"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), "sha256:" + hex.EncodeToString(sum[:])
}

// testNode is one node as `kubectl get nodes -o json` shows it to the
// fake control plane's callers; testNodes is the list.
func testNode(name, podCIDR string, ready bool, addr string) string {
	status := "False"
	if ready {
		status = "True"
	}
	return `{"metadata":{"name":"` + name + `"},"spec":{"podCIDR":"` + podCIDR + `"},"status":{"conditions":[{"type":"Ready","status":"` +
		status + `"}],"addresses":[{"type":"InternalIP","address":"` + addr + `"}]}}`
}

func testNodes(items ...string) string { return `{"items":[` + strings.Join(items, ",") + `]}` }

func TestBootstrapRunsTheStepsInOrder(t *testing.T) {
	caPEM, wantHash := testCA(t)
	nodes := testNodes(testNode("s-cp-1", "10.244.0.0/24", true, "10.213.0.2"), testNode("s-worker-1", "10.244.1.0/24", true, "10.213.0.3"),
		// A node on its way out: not Ready any more, its pods still reachable.
		testNode("s-worker-2", "10.244.2.0/24", false, "10.213.0.4"))
	var mu sync.Mutex
	var log, seen []string
	mk := func(name, role, addr string) Node {
		return Node{Name: name, Role: role, Address: addr, Runner: fakeRunner{name, &mu, &log, caPEM, nodes, &seen}}
	}
	etcd, err := TuneEtcd(Measured{ControlPlanes: 1}, config.Etcd{})
	if err != nil {
		t.Fatal(err)
	}
	cp, w := mk("s-cp-1", "control-plane", "10.213.0.2"), mk("s-worker-1", "worker", "10.213.0.3")
	p := Plan{
		Version: "1.34.4", Endpoint: "10.213.0.2:6443",
		Source:    Source{Bundle: "/opt/meshready/bundle/v1.34.4", Images: []BundleImage{{Ref: "registry.k8s.io/pause:3.10.1", Tarball: "/b/pause.tar"}}},
		PodSubnet: "10.244.0.0/16", ServiceSubnet: "10.96.0.0/12", Etcd: etcd, Container: true,
		Token: "abcdef.0123456789abcdef", CertKey: config.Secret(strings.Repeat("0123456789abcdef", 4)),
		Log: slog.New(slog.DiscardHandler),
	}
	// The order the program's resources run them in: the cluster, each
	// member, the pod network.
	res, err := Init(t.Context(), p, cp)
	if err != nil {
		t.Fatal(err)
	}
	must(t, Join(t.Context(), p, cp, w, res.CACertHash))
	must(t, Network(t.Context(), p, cp, []Node{cp, w}))
	if res.CACertHash != wantHash || res.Endpoint != "10.213.0.2:6443" || !strings.Contains(res.Kubeconfig.Reveal(), "kind: Config") {
		t.Errorf("result = %+v", res)
	}
	index := func(entry string) int {
		for i, l := range log {
			if strings.HasPrefix(l, entry) {
				return i
			}
		}
		t.Fatalf("no %q in:\n%s", entry, strings.Join(log, "\n"))
		return -1
	}
	order := []string{
		"s-cp-1: # meshready kubeadm init on s-cp-1",
		"s-cp-1: cat /etc/kubernetes/pki/ca.crt",
		"s-cp-1: # meshready: renew the join token",
		"s-worker-1: # meshready kubeadm join of s-worker-1",
		"s-worker-1: # meshready pod network on s-worker-1",
	}
	for i := 1; i < len(order); i++ {
		if index(order[i-1]) > index(order[i]) {
			t.Errorf("%q ran after %q", order[i-1], order[i])
		}
	}
	if index("s-cp-1: # meshready host prep") > index("s-cp-1: # meshready kubeadm init") {
		t.Errorf("s-cp-1 was not prepared before kubeadm init")
	}
	if index("s-worker-1: # meshready host prep") > index("s-worker-1: # meshready kubeadm join") {
		t.Errorf("s-worker-1 was not prepared before its join")
	}
	// Each node routes to every registered node's pods but its own, the
	// leaving one's included, through the address its kubelet registered.
	for _, c := range seen {
		switch {
		case strings.HasPrefix(c, "# meshready pod network on s-cp-1"):
			if !strings.Contains(c, "ip route replace '10.244.1.0/24' via '10.213.0.3'\nip route replace '10.244.2.0/24' via '10.213.0.4'\n") || strings.Contains(c, "10.244.0.0/24' via") {
				t.Errorf("s-cp-1's routes:\n%s", c)
			}
		case strings.HasPrefix(c, "# meshready pod network on s-worker-1"):
			if !strings.Contains(c, "ip route replace '10.244.0.0/24' via '10.213.0.2'\n") || strings.Contains(c, "10.244.1.0/24' via") {
				t.Errorf("s-worker-1's routes:\n%s", c)
			}
		}
	}
	// A worker's join renews the token alone: the control-plane certificates
	// are uploaded only for a control plane's join.
	for _, c := range seen {
		if strings.HasPrefix(c, "# meshready: renew") && strings.Contains(c, "upload-certs") {
			t.Errorf("a worker's join uploaded the certificates:\n%s", c)
		}
	}
	// The join token and the certificate key never reach a command: they go
	// in 0600 files made for the run, which the step that reads them removes.
	var secretFiles []string
	for _, c := range seen {
		if strings.HasPrefix(c, "upload ") {
			head, data, _ := strings.Cut(c, "\n")
			if strings.Contains(data, p.Token.Reveal()) || strings.Contains(data, p.CertKey.Reveal()) {
				if f := strings.Fields(head); f[2] != "600" {
					t.Errorf("a secret went to a file of mode %s: %s", f[2], head)
				} else {
					secretFiles = append(secretFiles, f[1])
				}
			}
			continue
		}
		if strings.Contains(c, p.Token.Reveal()) || strings.Contains(c, p.CertKey.Reveal()) {
			t.Errorf("a secret is on a command:\n%s", c)
		}
	}
	if len(secretFiles) != 3 { // init, renew, join
		t.Errorf("secret files %v, want one for init, renew and the join", secretFiles)
	}
	for _, f := range secretFiles {
		removed := false
		for _, c := range seen {
			removed = removed || strings.Contains(c, "trap \"rm -f '"+f+"'\" EXIT")
		}
		if !removed {
			t.Errorf("no step removes %s", f)
		}
	}
}

// Nodes on a private network (Hetzner's): kubeadm gets the private
// endpoint and a certificate good for the public address too, and the
// kubeconfig handed back points at the public one.
func TestInitOnAPrivateNetwork(t *testing.T) {
	caPEM, _ := testCA(t)
	var mu sync.Mutex
	var log, seen []string
	cp := Node{Name: "h-cp-1", Role: "control-plane", Address: "10.0.1.2", Runner: fakeRunner{"h-cp-1", &mu, &log, caPEM, "", &seen}}
	etcd, err := TuneEtcd(Measured{ControlPlanes: 1}, config.Etcd{})
	must(t, err)
	p := Plan{Version: "1.34.4", Endpoint: "10.0.1.2:6443", PublicEndpoint: "203.0.113.7:6443", Etcd: etcd,
		Token: "abcdef.0123456789abcdef", CertKey: config.Secret(strings.Repeat("0123456789abcdef", 4)), Log: slog.New(slog.DiscardHandler)}
	if got := p.params(cp); got.AdvertiseAddress != "10.0.1.2" || got.ControlPlaneEndpoint != "10.0.1.2:6443" || !slices.Equal(got.CertSANs, []string{"203.0.113.7"}) {
		t.Errorf("kubeadm params: advertise %s, endpoint %s, SANs %v", got.AdvertiseAddress, got.ControlPlaneEndpoint, got.CertSANs)
	}
	res, err := Init(t.Context(), p, cp)
	must(t, err)
	if kc := res.Kubeconfig.Reveal(); res.Endpoint != "10.0.1.2:6443" || !strings.Contains(kc, "server: https://203.0.113.7:6443") || strings.Contains(kc, "10.0.1.2") {
		t.Errorf("endpoint %s, kubeconfig:\n%s", res.Endpoint, kc)
	}
	p.PublicEndpoint = ""
	if got := p.params(cp); len(got.CertSANs) != 0 {
		t.Errorf("SANs without a public endpoint: %v", got.CertSANs)
	}
}

func TestInitNeedsAControlPlane(t *testing.T) {
	_, err := Init(t.Context(), Plan{Log: slog.New(slog.DiscardHandler)}, Node{Name: "w", Role: "worker"})
	if err == nil || !strings.Contains(err.Error(), "w is a worker, not a control plane") {
		t.Errorf("err = %v", err)
	}
}

// TestSerialisedStepsWaitForEachOther runs two serialised scripts with the real
// shell and flock: the second starts while the first holds the lock, says it
// waits, and runs only after the first ended.
func TestSerialisedStepsWaitForEachOther(t *testing.T) {
	dir := t.TempDir()
	lock, log := filepath.Join(dir, "lock"), filepath.Join(dir, "log")
	first := exec.Command("sh", "-c", serialised(lock, "# step one\nset -eu\necho one-start >> "+log+"\nsleep 1\necho one-end >> "+log))
	must(t, first.Start())
	for i := 0; ; i++ { // until the first holds the lock
		if b, _ := os.ReadFile(log); strings.Contains(string(b), "one-start") {
			break
		}
		if i > 200 {
			t.Fatal("the first step never started")
		}
		time.Sleep(10 * time.Millisecond)
	}
	var stderr strings.Builder
	second := exec.Command("sh", "-c", serialised(lock, "# step two\nset -eu\necho two >> "+log))
	second.Stderr = &stderr
	must(t, second.Run())
	must(t, first.Wait())
	b, err := os.ReadFile(log)
	must(t, err)
	if string(b) != "one-start\none-end\ntwo\n" {
		t.Errorf("steps interleaved:\n%s", b)
	}
	if !strings.Contains(stderr.String(), "waiting for an earlier meshready step") {
		t.Errorf("the waiting step did not say so: %q", stderr.String())
	}
	if got := strings.SplitN(serialised(lock, "# first line\nrest"), "\n", 2)[0]; got != "# first line" {
		t.Errorf("first line = %q, errors quote it", got)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

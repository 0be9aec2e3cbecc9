package bootstrap

import (
	"strings"
	"testing"

	"github.com/meshready/meshready/internal/golden"
)

func TestNodeScriptsGolden(t *testing.T) {
	containerd, err := ContainerdConfig("registry.k8s.io/pause:3.10.1", "cgroupfs", true)
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "testdata/containerd-config.toml", []byte(containerd))
	cases := map[string]func() (string, error){
		"prep":    func() (string, error) { return PrepScript("local-cp-1", "/meshready/local-cp-1", true, true) },
		"runtime": func() (string, error) { return RuntimeScript("local-cp-1", "cgroupfs", containerd) },
		"images": func() (string, error) {
			return ImagesScript("local-w-1", []BundleImage{
				{Ref: "localhost/meshready/pilot:1.31-alpha.eed52ebb66ad", Tarball: "/opt/meshready/bundle/mesh-1.31-alpha.eed52ebb66ad/images/pilot_1.31-alpha.eed52ebb66ad.tar"},
				{Ref: "registry.k8s.io/e2e-test-images/agnhost:2.56", Tarball: "/opt/meshready/bundle/e2e-v1.34.4/images/agnhost_2.56.tar",
					SHA256: "5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"},
			})
		},
		"kube-bundle": func() (string, error) {
			return KubeBundleScript("local-cp-1", "v1.34.4", "/opt/meshready/bundle/v1.34.4", []BundleImage{
				{Ref: "registry.k8s.io/pause:3.10.1", Tarball: "/opt/meshready/bundle/v1.34.4/images/pause.tar"},
				{Ref: "registry.k8s.io/etcd:3.6.5-0", Tarball: "/opt/meshready/bundle/v1.34.4/images/etcd.tar"},
			})
		},
		"kube-apt": func() (string, error) { return KubeAptScript("hel1-cp-1", "v1.34.4") },
		"init": func() (string, error) {
			return InitScript("local-cp-1", "/etc/meshready/kubeadm-0123456789abcdef.yaml", []string{"SystemVerification", "FileContent--proc-sys-net-bridge-bridge-nf-call-iptables"})
		},
		"join": func() (string, error) {
			return JoinScript("local-worker-1", "/etc/meshready/kubeadm-0123456789abcdef.yaml", nil)
		},
		"renew": func() (string, error) {
			return RenewScript("local-cp-1", "/etc/meshready/kubeadm-0123456789abcdef.yaml", true)
		},
		"renew-token": func() (string, error) {
			return RenewScript("local-cp-1", "/etc/meshready/kubeadm-0123456789abcdef.yaml", false)
		},
		"upload-config": func() (string, error) {
			return UploadConfigScript("local-cp-1", "/etc/meshready/kubeadm-0123456789abcdef.yaml")
		},
		"etcd-retune": func() (string, error) {
			return RetuneScript("local-cp-2", "/etc/kubernetes/meshready-etcd.yaml", []Arg{{"heartbeat-interval", "150"}, {"snapshot-count", "5000"}})
		},
		"restore-stop": func() (string, error) {
			return render("restore-stop.sh.tmpl", struct{ Node, Aside string }{"local-cp-1", "/etc/kubernetes/meshready-restore"})
		},
		"restore-data": func() (string, error) {
			return RestoreDataScript(Node{Name: "local-cp-2", Address: "10.213.0.3"}, "/var/lib/meshready/restore-20261203T093000Z.db",
				"/var/lib/meshready/bin/etcdutl", []string{"local-cp-1=https://10.213.0.2:2380", "local-cp-2=https://10.213.0.3:2380"}, "20261203T093000Z")
		},
		"restore-start": func() (string, error) {
			return render("restore-start.sh.tmpl", struct{ Node, Aside string }{"local-cp-1", "/etc/kubernetes/meshready-restore"})
		},
		"upgrade-kubeadm-bundle": func() (string, error) {
			return UpgradeKubeadmScript("local-cp-1", "v1.35.4", "/opt/meshready/bundle/v1.35.4", []BundleImage{
				{Ref: "registry.k8s.io/etcd:3.6.6-0", Tarball: "/opt/meshready/bundle/v1.35.4/images/etcd_3.6.6-0.tar"},
			})
		},
		"upgrade-kubeadm-apt": func() (string, error) { return UpgradeKubeadmScript("hel1-worker-1", "v1.35.4", "", nil) },
		"upgrade-apply": func() (string, error) {
			return UpgradeNodeScript("local-cp-1", "v1.35.4", true, []string{"SystemVerification", "FileContent--proc-sys-net-bridge-bridge-nf-call-iptables"})
		},
		"upgrade-node": func() (string, error) { return UpgradeNodeScript("hel1-worker-1", "v1.35.4", false, nil) },
		"upgrade-kubelet-bundle": func() (string, error) {
			return UpgradeKubeletScript("local-worker-1", "v1.35.4", "/opt/meshready/bundle/v1.35.4")
		},
		"upgrade-kubelet-apt": func() (string, error) { return UpgradeKubeletScript("hel1-worker-1", "v1.35.4", "") },
		"cni": func() (string, error) {
			return CNIScript("local-cp-1", Bridge{PodCIDR: "10.244.0.0/24", IPMasq: true}, false, []Route{{"10.244.1.0/24", "10.213.0.3"}, {"10.244.2.0/24", "10.213.0.4"}})
		},
		"cni-flannel": func() (string, error) {
			return CNIScript("hel1-worker-1", Bridge{PodCIDR: "10.244.2.0/24", MTU: 1400}, true, nil)
		},
		"flannel": func() (string, error) {
			return FlannelScript("hel1-worker-1", "10.0.1.3", "10.244.0.0/16", []string{"10.244.0.0/24", "10.244.1.0/24"})
		},
		"flannel-access": func() (string, error) { return FlannelAccessScript("hel1-cp-1") },
	}
	golden.Scripts(t, "testdata/scripts", cases)

	// Only a well-formed version reaches a script (it names packages and a URL).
	for _, bad := range []string{"1.34", "1.35.4; rm -rf /", "1.35.4-rc.0", "1.35.04", "$(id).1.2"} {
		if _, err := KubeAptScript("x", bad); err == nil {
			t.Errorf("KubeAptScript took version %q", bad)
		}
		if _, err := UpgradeKubeadmScript("x", bad, "", nil); err == nil {
			t.Errorf("UpgradeKubeadmScript took version %q", bad)
		}
		if _, err := UpgradeNodeScript("x", bad, true, nil); err == nil {
			t.Errorf("UpgradeNodeScript took version %q", bad)
		}
		if _, err := UpgradeKubeletScript("x", bad, ""); err == nil {
			t.Errorf("UpgradeKubeletScript took version %q", bad)
		}
	}
}

// An image hash reaches the script only as hex.
func TestImagesScriptRefusesABadHash(t *testing.T) {
	for _, bad := range []string{"x", "'; rm -rf / #", strings.Repeat("A", 64)} {
		if _, err := ImagesScript("n", []BundleImage{{Ref: "r:1", Tarball: "/t.tar", SHA256: bad}}); err == nil {
			t.Errorf("hash %q taken", bad)
		}
	}
}

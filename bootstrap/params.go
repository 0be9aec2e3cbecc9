package bootstrap

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

var (
	// tokenRE is kubeadm's bootstrap token format (kubeadm token generate).
	tokenRE = regexp.MustCompile(`^[a-z0-9]{6}\.[a-z0-9]{16}$`)
	// certKeyRE is 32 bytes in hex, as kubeadm certs certificate-key prints it.
	certKeyRE = regexp.MustCompile(`^[0-9a-f]{64}$`)
	// caHashRE is a CA public key pin as kubeadm init prints it.
	caHashRE   = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
	nodeNameRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	// preflightRE matches check names such as Swap or FileAvailable--etc-kubernetes-manifests-etcd.yaml.
	preflightRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9._-]*$`)
	labelNameRE = regexp.MustCompile(`^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$`)
	labelValRE  = regexp.MustCompile(`^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$`)
)

// kubeletLabels are the labels in the kubernetes.io and k8s.io namespaces that
// the NodeRestriction admission plugin lets a kubelet set on its own node.
var kubeletLabels = []string{"topology.kubernetes.io/region", "topology.kubernetes.io/zone", "node.kubernetes.io/instance-type"}

// validate checks what init and join share, returns every problem at once and
// never prints a secret's value.
func (p ClusterParams) validate() (api string, minor int, err error) {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	api, minor, verr := kubeadmAPI(p.KubernetesVersion)
	if verr != nil {
		errs = append(errs, verr)
	}
	if host, port, err := net.SplitHostPort(p.ControlPlaneEndpoint); err != nil || host == "" || !validPort(port) {
		add("ControlPlaneEndpoint %q is not host:port (e.g. 10.0.0.2:6443)", p.ControlPlaneEndpoint)
	}
	for _, san := range p.CertSANs {
		if _, err := netip.ParseAddr(san); err != nil && !nodeNameRE.MatchString(san) {
			add("CertSANs: %q is neither an IP address nor a DNS name", san)
		}
	}
	switch a, err := netip.ParseAddr(p.AdvertiseAddress); {
	case p.AdvertiseAddress == "":
		add("AdvertiseAddress is empty: kubeadm needs this node's IP for its API server and the kubelet's node IP")
	case err != nil || a.IsUnspecified() || a.Zone() != "":
		add("AdvertiseAddress %q is not a node's IP address", p.AdvertiseAddress)
	}
	if len(p.NodeName) > 253 || !nodeNameRE.MatchString(p.NodeName) {
		add("NodeName %q is not a lower-case DNS subdomain", p.NodeName)
	}
	if !tokenRE.MatchString(p.BootstrapToken.Reveal()) {
		add("BootstrapToken is not in kubeadm's format [a-z0-9]{6}.[a-z0-9]{16}")
	}
	if k := p.CertificateKey.Reveal(); k != "" && !certKeyRE.MatchString(k) {
		add("CertificateKey is not 64 lower-case hex digits (kubeadm certs certificate-key)")
	}
	for name, cidr := range map[string]string{"PodSubnet": p.PodSubnet, "ServiceSubnet": p.ServiceSubnet} {
		if pr, err := netip.ParsePrefix(cidr); cidr != "" && (err != nil || pr.Masked() != pr) {
			add("%s %q is not a CIDR prefix such as 10.244.0.0/16", name, cidr)
		}
	}
	if d := p.CgroupDriver; d != "" && d != "systemd" && d != "cgroupfs" {
		add("CgroupDriver %q is not systemd or cgroupfs", d)
	}
	if s := p.CRISocket; s != "" && !strings.HasPrefix(s, "unix:///") {
		add("CRISocket %q is not a unix:/// URL (kubeadm wants the scheme)", s)
	}
	switch pp := p.ImagePullPolicy; {
	case pp != "" && pp != "IfNotPresent" && pp != "Never" && pp != "Always":
		add("ImagePullPolicy %q is not IfNotPresent, Never or Always", pp)
	case api == apiV1beta2 && pp != "" && pp != "IfNotPresent":
		add("ImagePullPolicy %s needs kubeadm's v1beta3 API (Kubernetes 1.22+); 1.21 always pulls missing images", pp)
	}
	for _, name := range p.IgnorePreflightErrors {
		if strings.EqualFold(name, "all") || !preflightRE.MatchString(name) {
			add("IgnorePreflightErrors: %q is not a single check's name (all is refused: it hides the checks that matter)", name)
		}
	}
	for k, v := range p.NodeLabels {
		if err := checkLabel(k, v); err != nil {
			errs = append(errs, err)
		}
	}
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return api, minor, errors.Join(errs...)
}

// validateInit checks what only the first control plane needs.
func (p ClusterParams) validateInit() error {
	var errs []error
	e := p.Etcd
	if e.HeartbeatInterval <= 0 || e.ElectionTimeout <= 0 || e.SnapshotCount <= 0 || e.QuotaBackendBytes <= 0 ||
		e.AutoCompactionMode == "" || e.AutoCompactionRetention == "" || e.MetricsURL == "" {
		errs = append(errs, errors.New("Etcd is incomplete: pass TuneEtcd's result"))
	}
	if d := p.EtcdDataDir; d != "" && (!path.IsAbs(d) || path.Clean(d) != d) {
		errs = append(errs, fmt.Errorf("EtcdDataDir %q is not a clean absolute path", d))
	}
	return errors.Join(errs...)
}

// validateJoin checks what a joining node needs.
func (p ClusterParams) validateJoin(controlPlane bool, caCertHash string) error {
	var errs []error
	if !caHashRE.MatchString(caCertHash) {
		errs = append(errs, fmt.Errorf("CA cert hash %q is not sha256:<64 hex digits> (as kubeadm init prints it)", caCertHash))
	}
	if controlPlane && p.CertificateKey == "" {
		errs = append(errs, errors.New("CertificateKey is empty: a control plane joins by fetching the certificates init uploaded with it"))
	}
	return errors.Join(errs...)
}

// checkLabel refuses a label the kubelet could not set, or one that would
// break --node-labels' key=value,key=value syntax.
func checkLabel(k, v string) error {
	prefix, name, ok := strings.Cut(k, "/")
	if !ok {
		prefix, name = "", k
	}
	if (ok && (len(prefix) > 253 || !nodeNameRE.MatchString(prefix))) || !labelNameRE.MatchString(name) || !labelValRE.MatchString(v) {
		return fmt.Errorf("NodeLabels: %s=%s is not a valid label", k, v)
	}
	restricted := func(d string) bool {
		return d == "kubernetes.io" || strings.HasSuffix(d, ".kubernetes.io") || d == "k8s.io" || strings.HasSuffix(d, ".k8s.io")
	}
	own := func(d string) bool {
		return d == "kubelet.kubernetes.io" || strings.HasSuffix(d, ".kubelet.kubernetes.io") ||
			d == "node.kubernetes.io" || strings.HasSuffix(d, ".node.kubernetes.io")
	}
	if restricted(prefix) && !own(prefix) && !slices.Contains(kubeletLabels, k) {
		return fmt.Errorf("NodeLabels: the kubelet may not set %s on itself (NodeRestriction); label the node after it joins", k)
	}
	return nil
}

func validPort(s string) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n > 0 && n <= 65535
}

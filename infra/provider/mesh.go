package provider

import (
	"context"
	"fmt"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"

	"github.com/meshready/meshready/bootstrap"
	"github.com/meshready/meshready/mesh"
	"github.com/meshready/meshready/remote"
)

// PreflightType is what must hold before Istio's charts go on a cluster:
// on local nodes the mesh images imported into containerd, then the
// precheck (Kubernetes inside the release's support window, the API groups
// Istio needs, no other Istio control plane). It fails with every problem
// found, before any chart is installed. It runs again on every change of
// its inputs (a new Istio version, other nodes).
const PreflightType tokens.Type = "meshready:mesh:Preflight"

// PreflightInputs are a Preflight's inputs.
type PreflightInputs struct {
	Nodes         []SuiteNode `json:"nodes"`
	SSHPrivateKey string      `json:"sshPrivateKey,omitempty"`
	IdentityFile  string      `json:"identityFile,omitempty"`
	// IstioVersion is the release to be installed (its support window is checked).
	IstioVersion string `json:"istioVersion"`
	// Images are image tarballs as the nodes see them (local stacks), imported on every node.
	Images []bootstrap.BundleImage `json:"images,omitempty"`
}

func decodePreflight(m resource.PropertyMap) (PreflightInputs, error) {
	return decode[PreflightInputs](m, "mesh preflight")
}

// kubectl is how meshready asks a control plane about its cluster: the
// admin kubeconfig kubeadm wrote, on the node itself.
const kubectl = "kubectl --kubeconfig /etc/kubernetes/admin.conf"

func (p *Provider) preflight(ctx context.Context, props resource.PropertyMap) (resource.PropertyMap, error) {
	in, err := decodePreflight(props)
	if err != nil {
		return nil, err
	}
	nodes, closeAll, err := p.dialAll(ctx, in.Nodes, remote.Auth{PrivateKey: []byte(in.SSHPrivateKey), IdentityFile: in.IdentityFile})
	if err != nil {
		return nil, fmt.Errorf("mesh preflight: %w", err)
	}
	defer closeAll()
	if len(in.Images) > 0 {
		for _, n := range nodes {
			script, err := bootstrap.ImagesScript(n.Name, in.Images)
			if err != nil {
				return nil, err
			}
			p.log.Info("importing mesh images", "node", n.Name, "images", len(in.Images))
			if _, err := n.Runner.Run(ctx, script); err != nil {
				return nil, fmt.Errorf("%s: mesh preflight: import images: %w", n.Name, err)
			}
		}
	}
	var cp *bootstrap.Node
	for i := range nodes {
		if nodes[i].Role == "control-plane" {
			cp = &nodes[i]
			break
		}
	}
	if cp == nil {
		return nil, fmt.Errorf("mesh preflight: no control-plane node")
	}
	facts, err := clusterFacts(ctx, cp.Runner)
	if err != nil {
		return nil, fmt.Errorf("%s: mesh preflight: %w", cp.Name, err)
	}
	if problems := mesh.Precheck(in.IstioVersion, facts); len(problems) > 0 {
		return nil, fmt.Errorf("mesh precheck on %s failed; nothing of Istio was installed:\n  - %s", cp.Name, strings.Join(problems, "\n  - "))
	}
	out := props.Copy()
	out["kubernetesVersion"] = resource.NewProperty(facts.ServerVersion)
	return out, nil
}

// clusterFacts runs the precheck's three kubectl queries on a control plane.
func clusterFacts(ctx context.Context, r remote.Runner) (mesh.ClusterFacts, error) {
	var f mesh.ClusterFacts
	res, err := r.Run(ctx, kubectl+" version -o json")
	if err != nil {
		return f, fmt.Errorf("kubectl version: %w", err)
	}
	if f.ServerVersion, f.ServerMinor, err = mesh.ParseServerVersion(string(res.Stdout)); err != nil {
		return f, err
	}
	if res, err = r.Run(ctx, kubectl+" api-versions"); err != nil {
		return f, fmt.Errorf("kubectl api-versions: %w", err)
	}
	f.APIVersions = mesh.ParseAPIVersions(string(res.Stdout))
	if res, err = r.Run(ctx, kubectl+" get deployments --all-namespaces -l app=istiod -o json"); err != nil {
		return f, fmt.Errorf("kubectl get deployments: %w", err)
	}
	f.Istiods, err = mesh.ParseIstiods(string(res.Stdout))
	return f, err
}

func (p *Provider) createPreflight(ctx context.Context, req plugin.CreateRequest) (plugin.CreateResponse, error) {
	out, err := p.preflight(ctx, req.Properties)
	if err != nil {
		return plugin.CreateResponse{}, err
	}
	return plugin.CreateResponse{ID: "preflight", Properties: out, Status: resource.StatusOK}, nil
}

func (p *Provider) updatePreflight(ctx context.Context, req plugin.UpdateRequest) (plugin.UpdateResponse, error) {
	if req.Preview {
		return plugin.UpdateResponse{Properties: req.NewInputs, Status: resource.StatusOK}, nil
	}
	out, err := p.preflight(ctx, req.NewInputs)
	if err != nil {
		return plugin.UpdateResponse{}, err
	}
	return plugin.UpdateResponse{Properties: out, Status: resource.StatusOK}, nil
}

// diffPreflight: any changed input runs the preflight again, in place.
func diffPreflight(olds, news resource.PropertyMap) plugin.DiffResult {
	d := diffSuite(olds, news)
	if d.Changes == plugin.DiffSome {
		d.ChangedKeys, d.ReplaceKeys = d.ReplaceKeys, nil
	}
	return d
}

// InjectionType stands for one namespace joining the mesh: created when
// istio.injectNamespaces gains the namespace (its istio-injection label is
// new), it restarts the Deployments whose pods run without a proxy, as
// Istio injects only into new pods. It does nothing on later ups.
const InjectionType tokens.Type = "meshready:mesh:Injection"

// InjectionInputs are an Injection's inputs.
type InjectionInputs struct {
	Nodes         []SuiteNode `json:"nodes"`
	SSHPrivateKey string      `json:"sshPrivateKey,omitempty"`
	IdentityFile  string      `json:"identityFile,omitempty"`
	Namespace     string      `json:"namespace"`
}

func (p *Provider) createInjection(ctx context.Context, req plugin.CreateRequest) (plugin.CreateResponse, error) {
	in, err := decode[InjectionInputs](req.Properties, "mesh injection")
	if err != nil {
		return plugin.CreateResponse{}, err
	}
	cp, done, err := p.controlPlane(ctx, in.Nodes, remote.Auth{PrivateKey: []byte(in.SSHPrivateKey), IdentityFile: in.IdentityFile})
	if err != nil {
		return plugin.CreateResponse{}, fmt.Errorf("namespace %s: %w", in.Namespace, err)
	}
	defer done()
	res, err := cp.Runner.Run(ctx, kubectl+" --namespace "+in.Namespace+" get pods -o json")
	if err != nil {
		return plugin.CreateResponse{}, fmt.Errorf("%s: namespace %s: list pods: %w", cp.Name, in.Namespace, err)
	}
	names, err := mesh.UninjectedDeployments(string(res.Stdout))
	if err != nil {
		return plugin.CreateResponse{}, fmt.Errorf("%s: namespace %s: %w", cp.Name, in.Namespace, err)
	}
	if len(names) > 0 {
		p.log.Info("restarting deployments that run without a proxy", "namespace", in.Namespace, "deployments", strings.Join(names, ","))
		cmd := kubectl + " --namespace " + in.Namespace + " rollout restart deployment"
		for _, n := range names {
			cmd += " " + n
		}
		if _, err := cp.Runner.Run(ctx, cmd); err != nil {
			return plugin.CreateResponse{}, fmt.Errorf("%s: namespace %s: rollout restart: %w", cp.Name, in.Namespace, err)
		}
	}
	out := req.Properties.Copy()
	restarted := make([]resource.PropertyValue, len(names))
	for i, n := range names {
		restarted[i] = resource.NewProperty(n)
	}
	out["restarted"] = resource.NewProperty(restarted)
	return plugin.CreateResponse{ID: resource.ID(in.Namespace), Properties: out, Status: resource.StatusOK}, nil
}

// diffInjection: another namespace is another injection; new nodes or keys are not.
func diffInjection(olds, news resource.PropertyMap) plugin.DiffResult {
	if !olds["namespace"].DeepEquals(news["namespace"]) {
		return plugin.DiffResult{Changes: plugin.DiffSome, ReplaceKeys: []resource.PropertyKey{"namespace"}}
	}
	return plugin.DiffResult{Changes: plugin.DiffNone}
}

// controlPlane dials the first control-plane node.
func (p *Provider) controlPlane(ctx context.Context, nodes []SuiteNode, a remote.Auth) (bootstrap.Node, func(), error) {
	for _, n := range nodes {
		if n.Role == "control-plane" {
			all, done, err := p.dialAll(ctx, []SuiteNode{n}, a)
			if err != nil {
				return bootstrap.Node{}, nil, err
			}
			return all[0], done, nil
		}
	}
	return bootstrap.Node{}, nil, fmt.Errorf("no control-plane node")
}

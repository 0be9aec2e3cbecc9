package stacks

import (
	"fmt"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apiextensions"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	helmv3 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/helm/v3"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/meshready/meshready/config"
	"github.com/meshready/meshready/mesh"
)

// meshSource says where the charts and images come from: Istio's chart
// repository and registry (real clusters), or local chart paths and
// pre-loaded images (the local stack's bundle).
type meshSource struct {
	Charts string // folder of Istio's manifests/charts; "" for the repository
	Images mesh.Images
}

// meshComponents are what newMesh registers, for outputs and tests.
type meshComponents struct {
	Istio      *meshComponent
	Namespaces *meshComponent
	Policy     *meshComponent
	Canary     *meshComponent
}

type meshComponent struct {
	pulumi.ResourceState
}

func component(ctx *pulumi.Context, typ, name string, opts ...pulumi.ResourceOption) (*meshComponent, error) {
	c := &meshComponent{}
	if err := ctx.RegisterComponentResource(typ, name, c, opts...); err != nil {
		return nil, fmt.Errorf("register %s %s: %w", typ, name, err)
	}
	return c, nil
}

// newMesh makes the cluster mesh-ready, in order: Istio's charts (base with
// the CRDs, then istiod, then the optional gateway), the injected namespaces,
// the PeerAuthentication policies, the canary routes. Everything talks to the
// cluster through one pulumi-kubernetes provider built from its kubeconfig.
func newMesh(ctx *pulumi.Context, cfg *config.Config, kubeconfig pulumi.StringOutput, src meshSource, opts ...pulumi.ResourceOption) (*meshComponents, error) {
	root, err := component(ctx, "meshready:mesh:Mesh", "mesh", opts...)
	if err != nil {
		return nil, err
	}
	k8s, err := kubernetes.NewProvider(ctx, "cluster", &kubernetes.ProviderArgs{
		Kubeconfig: kubeconfig,
		// Server-side apply: fields other controllers own (istiod patches its
		// webhooks) are not fought over on every up.
		EnableServerSideApply: pulumi.BoolPtr(true),
	}, pulumi.Parent(root))
	if err != nil {
		return nil, fmt.Errorf("kubernetes provider: %w", err)
	}
	in := func(parent pulumi.Resource, deps ...pulumi.Resource) []pulumi.ResourceOption {
		o := []pulumi.ResourceOption{pulumi.Parent(parent), pulumi.Provider(k8s)}
		if len(deps) > 0 {
			o = append(o, pulumi.DependsOn(deps))
		}
		return o
	}
	var out meshComponents

	// 1. Istio: each release waits for the one before (istiod needs the CRDs).
	if out.Istio, err = component(ctx, "meshready:mesh:Istio", "istio", pulumi.Parent(root)); err != nil {
		return nil, err
	}
	var prev []pulumi.Resource
	for _, ch := range mesh.Charts(cfg.Istio, src.Charts, src.Images) {
		args := &helmv3.ReleaseArgs{
			Name:            pulumi.String(ch.Release),
			Chart:           pulumi.String(ch.Chart),
			Namespace:       pulumi.String(ch.Namespace),
			CreateNamespace: pulumi.BoolPtr(true),
			Values:          pulumi.ToMap(ch.Values),
			// istiod waits for the API server through the kubernetes Service;
			// 10 minutes (Helm's default wait) is the bound here too, stated.
			Timeout: pulumi.IntPtr(600),
		}
		if ch.Repo != "" {
			args.Version = pulumi.StringPtr(ch.Version)
			args.RepositoryOpts = &helmv3.RepositoryOptsArgs{Repo: pulumi.StringPtr(ch.Repo)}
		}
		rel, err := helmv3.NewRelease(ctx, ch.Release, args, in(out.Istio, prev...)...)
		if err != nil {
			return nil, fmt.Errorf("helm release %s: %w", ch.Release, err)
		}
		prev = []pulumi.Resource{rel}
	}
	if err := ctx.RegisterResourceOutputs(out.Istio, pulumi.Map{"version": pulumi.String(cfg.Istio.Version)}); err != nil {
		return nil, err
	}
	istio := prev

	// 2. Namespaces whose pods get sidecars.
	if out.Namespaces, err = component(ctx, "meshready:mesh:Namespaces", "namespaces", pulumi.Parent(root)); err != nil {
		return nil, err
	}
	var namespaces []pulumi.Resource
	for _, ns := range mesh.Namespaces(cfg.Istio) {
		r, err := corev1.NewNamespace(ctx, ns.Name, &corev1.NamespaceArgs{
			Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(ns.Name), Labels: pulumi.ToStringMap(ns.Labels)},
		}, in(out.Namespaces, istio...)...)
		if err != nil {
			return nil, fmt.Errorf("namespace %s: %w", ns.Name, err)
		}
		namespaces = append(namespaces, r)
	}
	if err := ctx.RegisterResourceOutputs(out.Namespaces, pulumi.Map{"injected": pulumi.ToStringArray(cfg.Istio.InjectNamespaces)}); err != nil {
		return nil, err
	}

	// 3. mTLS policies, 4. canary routes: Istio resources, after the CRDs
	// (istio) and the namespaces they live in.
	after := append(append([]pulumi.Resource{}, istio...), namespaces...)
	if out.Policy, err = component(ctx, "meshready:mesh:Policy", "mtls", pulumi.Parent(root)); err != nil {
		return nil, err
	}
	for _, pa := range mesh.PeerAuthentications(cfg.Istio) {
		if err := customResource(ctx, pa, in(out.Policy, after...)); err != nil {
			return nil, err
		}
	}
	if err := ctx.RegisterResourceOutputs(out.Policy, pulumi.Map{"mode": pulumi.String(cfg.Istio.MTLS)}); err != nil {
		return nil, err
	}
	if out.Canary, err = component(ctx, "meshready:mesh:Canary", "canary", pulumi.Parent(root)); err != nil {
		return nil, err
	}
	for _, cn := range cfg.Canary {
		rule, route, err := mesh.Canary(cn)
		if err != nil {
			return nil, err
		}
		for _, o := range []mesh.Object{rule, route} {
			if err := customResource(ctx, o, in(out.Canary, after...)); err != nil {
				return nil, err
			}
		}
	}
	if err := ctx.RegisterResourceOutputs(out.Canary, pulumi.Map{"splits": pulumi.Int(len(cfg.Canary))}); err != nil {
		return nil, err
	}
	return &out, ctx.RegisterResourceOutputs(root, pulumi.Map{})
}

// customResource registers an Istio object; its Pulumi name carries kind,
// namespace and name, unique in the stack.
func customResource(ctx *pulumi.Context, o mesh.Object, opts []pulumi.ResourceOption) error {
	name := fmt.Sprintf("%s-%s-%s", o.Kind, o.Namespace, o.Name)
	_, err := apiextensions.NewCustomResource(ctx, name, &apiextensions.CustomResourceArgs{
		ApiVersion:  pulumi.String(o.APIVersion),
		Kind:        pulumi.String(o.Kind),
		Metadata:    &metav1.ObjectMetaArgs{Name: pulumi.String(o.Name), Namespace: pulumi.String(o.Namespace)},
		OtherFields: kubernetes.UntypedArgs{"spec": o.Spec},
	}, opts...)
	if err != nil {
		return fmt.Errorf("%s %s/%s: %w", o.Kind, o.Namespace, o.Name, err)
	}
	return nil
}

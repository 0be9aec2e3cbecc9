package stacks

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apiextensions"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/meshready/meshready/bundle"
	"github.com/meshready/meshready/config"
	"github.com/meshready/meshready/contract"
	"github.com/meshready/meshready/mesh"
	"github.com/meshready/meshready/report"
)

// meshSource says where the charts and images come from: Istio's chart
// repository and registry (real clusters), or local chart paths and
// pre-loaded images (the local stack's bundle).
type meshSource struct {
	mesh.Source
	// Images are image tarballs as the nodes see them, imported before the charts (local).
	Images []contract.Image
	// Addons maps an addon to its manifest as YAML (local: adapted to the
	// pre-loaded images) or to why it cannot be installed (Missing); addons
	// in neither come from Istio's release (AddonURL).
	Addons  map[string]string
	Missing map[string]string
	// Probe is the meshprobe image of the proxyless checks (local).
	Probe string
	// Fortio is the latency benchmark's image, pre-loaded (local); empty
	// means benchmarks.meshLatency.image, pulled.
	Fortio string
	// NodeExporter is the node_exporter image, pre-loaded (local); empty
	// means its release image (mesh.NodeExporterImage), pulled.
	NodeExporter string
	// NoSidecars says why Envoy sidecars cannot run here (local); empty
	// where they can.
	NoSidecars string
	// Canary is where an Istio canary's istiod comes from (istio.canary).
	Canary mesh.Source
}

// meshCluster is what the mesh is installed on: the cluster's kubeconfig,
// and its nodes for the steps that run kubectl on a control plane.
type meshCluster struct {
	Kubeconfig pulumi.StringOutput
	Nodes      contract.NodeRefsInput
	Access     contract.AccessArgs
	Cluster    pulumi.Resource
}

// meshComponents are what newMesh registers, for outputs and tests.
type meshComponents struct {
	Istio      *meshComponent
	Namespaces *meshComponent
	Policy     *meshComponent
	Canary     *meshComponent
	Addons     *meshComponent
	Probes     *meshComponent
	// Injections are the namespaces' moves (one per injected namespace).
	Injections []*contract.InjectionResource
	// Checks and Latency report what they measured (nil when off).
	Checks  []*contract.ChecksResource
	Latency *contract.LatencyResource
	// Dashboards tells, per addon, how to open it (or why it is not there).
	Dashboards pulumi.StringMap
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
func newMesh(ctx *pulumi.Context, cfg *config.Config, cl meshCluster, src meshSource, opts ...pulumi.ResourceOption) (*meshComponents, error) {
	root, err := component(ctx, contract.MeshComponent, "mesh", opts...)
	if err != nil {
		return nil, err
	}
	// 0. Preflight: images on the nodes (local), then the precheck; nothing
	// of Istio is installed unless it passes.
	var preflight pulumi.CustomResourceState
	if err := contract.Register(ctx, contract.Preflight(), "preflight",
		contract.PreflightArgs{Nodes: cl.Nodes, Access: cl.Access, IstioVersion: cfg.Istio.Version, Images: src.Images},
		&preflight, pulumi.Parent(root), pulumi.DependsOn([]pulumi.Resource{cl.Cluster})); err != nil {
		return nil, err
	}
	k8s, err := kubernetes.NewProvider(ctx, "cluster", &kubernetes.ProviderArgs{
		Kubeconfig: cl.Kubeconfig,
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

	// 1. Istio: each release waits for the one before (istiod needs the
	// CRDs). istiod is a revision named after its version, and the
	// injected namespaces follow the stable tag, which points at it: a new
	// version installs its revision beside the old one, the tag moves, each
	// namespace is moved in turn (step 6), and the old revision's release,
	// no longer in the program, is deleted by the engine after all of that,
	// at the end of the update.
	// An Istio canary (istio.canary) is a second revision beside it with
	// its own tag, for the namespaces it lists.
	rev, err := mesh.Revision(cfg.Istio.Version)
	if err != nil {
		return nil, err
	}
	charts := mesh.Charts(cfg.Istio, src.Source, rev)
	tags := map[string]string{mesh.StableTag: rev}
	if cv := cfg.Istio.Canary.Version; cv != "" {
		canaryRev, err := mesh.Revision(cv)
		if err != nil {
			return nil, err
		}
		charts = mesh.CanaryCharts(cfg.Istio, src.Source, rev, src.Canary, canaryRev)
		tags[mesh.CanaryTag] = canaryRev
	}
	// nsRev is the revision a namespace's pods run with.
	nsRev := func(ns string) string { return tags[mesh.NamespaceTag(cfg.Istio, ns)] }
	if out.Istio, err = component(ctx, contract.IstioComponent, "istio", pulumi.Parent(root)); err != nil {
		return nil, err
	}
	prev := []pulumi.Resource{&preflight}
	for _, ch := range charts {
		args := pulumi.Map{
			"name":            pulumi.String(ch.Release),
			"chart":           pulumi.String(ch.Chart),
			"namespace":       pulumi.String(ch.Namespace),
			"createNamespace": pulumi.Bool(true),
			"values":          pulumi.ToMap(ch.Values),
			// istiod waits for the API server through the kubernetes Service;
			// 10 minutes (Helm's default wait) is the bound here too, stated.
			"timeout": pulumi.Int(600),
		}
		if ch.Repo != "" {
			args["version"] = pulumi.String(ch.Version)
			args["repositoryOpts"] = pulumi.Map{"repo": pulumi.String(ch.Repo)}
		}
		rel, err := helmRelease(ctx, ch.Release, args, in(out.Istio, prev...)...)
		if err != nil {
			return nil, fmt.Errorf("helm release %s: %w", ch.Release, err)
		}
		prev = []pulumi.Resource{rel}
	}
	istio := prev
	// Istio resources that name no revision are validated by the stable
	// revision, once its istiod runs (see mesh.DefaultValidator).
	validator, err := configGroup(ctx, "default-validator", pulumi.Map{"objs": pulumi.Array{pulumi.ToMap(mesh.DefaultValidator(rev))}},
		in(out.Istio, prev...)...)
	if err != nil {
		return nil, fmt.Errorf("default validation webhook: %w", err)
	}
	istio = append(istio, validator)
	for _, name := range slices.Sorted(maps.Keys(tags)) {
		tag, err := configGroup(ctx, "revision-tag-"+name, pulumi.Map{"objs": pulumi.Array{pulumi.ToMap(mesh.RevisionTag(name, tags[name]))}},
			in(out.Istio, prev...)...)
		if err != nil {
			return nil, fmt.Errorf("revision tag %s: %w", name, err)
		}
		istio = append(istio, tag)
	}
	// Nothing Istio's webhook validates is written before it answers.
	var answers pulumi.CustomResourceState
	if err := contract.Register(ctx, contract.Webhooks(), "validation",
		contract.WebhooksArgs{Nodes: cl.Nodes, Access: cl.Access, Revision: rev},
		&answers, pulumi.Parent(out.Istio), pulumi.DependsOn(istio)); err != nil {
		return nil, err
	}
	istio = append(istio, &answers)
	if err := ctx.RegisterResourceOutputs(out.Istio, pulumi.Map{"version": pulumi.String(cfg.Istio.Version), "revision": pulumi.String(rev),
		"canary": pulumi.String(cfg.Istio.Canary.Version)}); err != nil {
		return nil, err
	}

	// 2. Namespaces whose pods get sidecars (labelled with the stable tag).
	if out.Namespaces, err = component(ctx, contract.NamespacesComponent, "namespaces", pulumi.Parent(root)); err != nil {
		return nil, err
	}
	var namespaces []pulumi.Resource
	nsResource := map[string]pulumi.Resource{}
	for _, ns := range mesh.Namespaces(cfg.Istio) {
		// The namespace is the user's, made here or found (server-side
		// apply takes an existing one's labels over): leaving the mesh or
		// destroying the stack removes the label (the Injection's delete),
		// never the namespace and its workloads.
		r, err := corev1.NewNamespace(ctx, ns.Name, &corev1.NamespaceArgs{
			Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(ns.Name), Labels: pulumi.ToStringMap(ns.Labels)},
		}, append(in(out.Namespaces, istio...), pulumi.RetainOnDelete(true))...)
		if err != nil {
			return nil, fmt.Errorf("namespace %s: %w", ns.Name, err)
		}
		namespaces = append(namespaces, r)
		nsResource[ns.Name] = r
	}
	if err := ctx.RegisterResourceOutputs(out.Namespaces, pulumi.Map{"injected": pulumi.ToStringArray(cfg.Istio.InjectNamespaces)}); err != nil {
		return nil, err
	}

	// 3. mTLS policies, 4. canary routes: Istio resources, after the CRDs
	// (istio) and the namespaces they live in.
	after := append(append([]pulumi.Resource{}, istio...), namespaces...)
	if out.Policy, err = component(ctx, contract.PolicyComponent, "mtls", pulumi.Parent(root)); err != nil {
		return nil, err
	}
	var routed []pulumi.Resource // policies and routes, which the checks need in force
	for _, pa := range mesh.PeerAuthentications(cfg.Istio) {
		r, err := customResource(ctx, pa, in(out.Policy, after...))
		if err != nil {
			return nil, err
		}
		routed = append(routed, r)
	}
	if err := ctx.RegisterResourceOutputs(out.Policy, pulumi.Map{"mode": pulumi.String(cfg.Istio.MTLS)}); err != nil {
		return nil, err
	}
	if out.Canary, err = component(ctx, contract.CanaryComponent, "canary", pulumi.Parent(root)); err != nil {
		return nil, err
	}
	for _, cn := range cfg.Canary {
		rule, route, err := mesh.Canary(cn, mesh.NamespaceMTLS(cfg.Istio, cn.Namespace))
		if err != nil {
			return nil, err
		}
		for _, o := range []mesh.Object{rule, route} {
			r, err := customResource(ctx, o, in(out.Canary, after...))
			if err != nil {
				return nil, err
			}
			routed = append(routed, r)
		}
	}
	if err := ctx.RegisterResourceOutputs(out.Canary, pulumi.Map{"splits": pulumi.Int(len(cfg.Canary))}); err != nil {
		return nil, err
	}

	// 5. Addons (Prometheus, Kiali) from Istio's manifests for the release.
	if out.Addons, err = component(ctx, contract.AddonsComponent, "addons", pulumi.Parent(root)); err != nil {
		return nil, err
	}
	dashboards := pulumi.StringMap{}
	var addons []pulumi.Resource
	for _, a := range cfg.Addons {
		if why, ok := src.Missing[a]; ok {
			ctx.Log.Warn(fmt.Sprintf("addon %s is not installed: %s", a, why), nil)
			dashboards[a] = pulumi.String("not installed: " + why)
			continue
		}
		var addon pulumi.Resource
		if y, ok := src.Addons[a]; ok {
			addon, err = configGroup(ctx, a, pulumi.Map{"yaml": pulumi.String(y)}, in(out.Addons, istio...)...)
		} else {
			var url string
			if url, err = mesh.AddonURL(cfg.Istio.Version, a); err != nil {
				return nil, err
			}
			addon, err = configFile(ctx, a, url, in(out.Addons, istio...)...)
		}
		if err != nil {
			return nil, fmt.Errorf("addon %s: %w", a, err)
		}
		addons = append(addons, addon)
		if a == "prometheus" {
			// node_exporter on every node: steal watched after up (report.AlertRules).
			image, pull := mesh.NodeExporterImage, "IfNotPresent"
			if src.NodeExporter != "" {
				image, pull = src.NodeExporter, "Never"
			}
			objs := pulumi.Array{}
			for _, o := range mesh.NodeExporter(image, pull) {
				objs = append(objs, pulumi.ToMap(o))
			}
			ne, err := configGroup(ctx, "node-exporter", pulumi.Map{"objs": objs}, in(out.Addons, slices.Concat([]pulumi.Resource{&preflight}, istio)...)...)
			if err != nil {
				return nil, fmt.Errorf("addon prometheus: node_exporter: %w", err)
			}
			addons = append(addons, ne)
		}
		dashboards[a] = pulumi.String(mesh.Dashboard(a))
	}
	if err := ctx.RegisterResourceOutputs(out.Addons, pulumi.Map{"dashboards": dashboards}); err != nil {
		return nil, err
	}
	out.Dashboards = dashboards

	// 6. The namespaces' workloads, one namespace at a time: pods that ran
	// without a proxy (a namespace joining) or with another revision's (an
	// upgrade) are restarted (Injection), then, where checks are on,
	// meshready's gRPC echo runs as each canary service of the namespace,
	// with clients on every node, and the checks run through them
	// (proxyless gRPC where no Envoy exists, the local stack; else behind
	// Envoy sidecars) before the next namespace moves.
	checksOn := cfg.Istio.ProxylessChecks || cfg.Istio.SidecarChecks
	sidecars, image, pull := cfg.Istio.SidecarChecks, src.Probe, "Never"
	if sidecars {
		// A registry tag may move: pull it every time, as the input would not change.
		image, pull = cfg.Istio.ProbeImage, "Always"
	}
	if checksOn {
		if out.Probes, err = component(ctx, contract.ProbesComponent, "checks", pulumi.Parent(root), pulumi.Aliases(contract.ProbesAliases())); err != nil {
			return nil, err
		}
	}
	probe := func(cn config.Canary, deps []pulumi.Resource) (pulumi.Resource, error) {
		name := "probe-" + cn.Namespace + "-" + cn.Service
		objs := pulumi.Array{}
		mode := mesh.NamespaceMTLS(cfg.Istio, cn.Namespace)
		for _, o := range mesh.ProbeWorkloads(cn, mode, image, pull, sidecars) {
			objs = append(objs, pulumi.ToMap(o))
		}
		// After the namespace's restarts, which must not catch the probe's.
		workloads, err := configGroup(ctx, name, pulumi.Map{"objs": objs},
			in(out.Probes, slices.Concat([]pulumi.Resource{&preflight}, after, routed, deps)...)...)
		if err != nil {
			return nil, fmt.Errorf("probe workloads %s/%s: %w", cn.Namespace, cn.Service, err)
		}
		var checks contract.ChecksResource
		if err := contract.Register(ctx, contract.Checks(), cn.Namespace+"-"+cn.Service, contract.ChecksArgs{
			Nodes: cl.Nodes, Access: cl.Access, Namespace: cn.Namespace, Service: cn.Service,
			Weights: cn.Subsets, MTLS: mode, Calls: 2000, Runs: 20, TolerancePts: 3, Image: image, Sidecars: sidecars,
			KubernetesVersion: cfg.Kubernetes.Version.Tag(), Revision: nsRev(cn.Namespace),
		}, &checks, pulumi.Parent(out.Probes), pulumi.DependsOn([]pulumi.Resource{workloads})); err != nil {
			return nil, fmt.Errorf("mesh checks %s/%s: %w", cn.Namespace, cn.Service, err)
		}
		out.Checks = append(out.Checks, &checks)
		return &checks, nil
	}
	var injections, checked []pulumi.Resource
	step := slices.Clone(istio) // what the next namespace waits for
	for _, ns := range cfg.Istio.InjectNamespaces {
		injection := &contract.InjectionResource{}
		if err := contract.Register(ctx, contract.Injection(), ns,
			contract.InjectionArgs{Nodes: cl.Nodes, Access: cl.Access, Namespace: ns, Revision: nsRev(ns)}, injection,
			pulumi.Parent(out.Namespaces), pulumi.DependsOn(append([]pulumi.Resource{nsResource[ns]}, step...))); err != nil {
			return nil, fmt.Errorf("namespace %s: %w", ns, err)
		}
		injections = append(injections, injection)
		out.Injections = append(out.Injections, injection)
		step = []pulumi.Resource{injection}
		for _, cn := range cfg.Canary {
			if cn.Namespace != ns || !checksOn {
				continue
			}
			checks, err := probe(cn, []pulumi.Resource{injection})
			if err != nil {
				return nil, err
			}
			checked = append(checked, checks)
			step = append(step, checks)
		}
	}
	// Canaries of namespaces outside the mesh: checked last.
	for _, cn := range cfg.Canary {
		if !checksOn || slices.Contains(cfg.Istio.InjectNamespaces, cn.Namespace) {
			continue
		}
		checks, err := probe(cn, injections)
		if err != nil {
			return nil, err
		}
		checked = append(checked, checks)
	}
	if checksOn {
		if err := ctx.RegisterResourceOutputs(out.Probes, pulumi.Map{}); err != nil {
			return nil, err
		}
	}
	// 7. Latency (METHODS.md, mesh overhead): fortio between two fixed
	// nodes without a mesh, with sidecars and STRICT mTLS, with sidecars and
	// mTLS off, and meshprobe's proxyless gRPC with mTLS on and off; last, after the checks, the addons and the restarts of
	// injected Deployments, so that no other work runs during the loads.
	if ml := cfg.Benchmarks.MeshLatency; ml.Enabled && cfg.Benchmarks.Enabled {
		args := contract.LatencyArgs{
			Nodes: cl.Nodes, Access: cl.Access, Sidecars: src.NoSidecars == "", NoSidecars: src.NoSidecars,
			Image: ml.Image, PullPolicy: "IfNotPresent", QPS: ml.QPS, Connections: ml.Connections, PayloadBytes: ml.PayloadBytes,
			Duration: ml.Duration.String(), IstioVersion: cfg.Istio.Version,
		}
		if src.Fortio != "" {
			args.Image, args.PullPolicy = src.Fortio, "Never"
		}
		// Where the proxyless checks run (the meshprobe image is on the
		// nodes), mTLS is measured without Envoy too.
		if cfg.Istio.ProxylessChecks && src.Probe != "" {
			args.Proxyless, args.ProbeImage = true, src.Probe
		}
		out.Latency = &contract.LatencyResource{}
		if err := contract.Register(ctx, contract.Latency(), "latency", args, out.Latency,
			pulumi.Parent(root), pulumi.DependsOn(slices.Concat([]pulumi.Resource{&preflight}, istio, routed, injections, addons, checked))); err != nil {
			return nil, err
		}
	}
	return &out, ctx.RegisterResourceOutputs(root, pulumi.Map{"dashboards": dashboards})
}

// customResource registers an Istio object; its Pulumi name carries kind,
// namespace and name, unique in the stack.
func customResource(ctx *pulumi.Context, o mesh.Object, opts []pulumi.ResourceOption) (pulumi.Resource, error) {
	name := fmt.Sprintf("%s-%s-%s", o.Kind, o.Namespace, o.Name)
	r, err := apiextensions.NewCustomResource(ctx, name, &apiextensions.CustomResourceArgs{
		ApiVersion:  pulumi.String(o.APIVersion),
		Kind:        pulumi.String(o.Kind),
		Metadata:    &metav1.ObjectMetaArgs{Name: pulumi.String(o.Name), Namespace: pulumi.String(o.Namespace)},
		OtherFields: kubernetes.UntypedArgs{"spec": o.Spec},
	}, opts...)
	if err != nil {
		return nil, fmt.Errorf("%s %s/%s: %w", o.Kind, o.Namespace, o.Name, err)
	}
	return r, nil
}

// meshSource is where the stack's mesh comes from: Istio's repositories for
// real clusters; for the local stack the charts inside the pinned
// istio.io/istio module, images built from it and imported on the nodes, and
// Istio's Prometheus addon adapted to the local image. Kiali has no image
// offline (its module is not in the proxy, nor is its UI), so it is named
// missing rather than installed half-working.
func (env Env) meshSource(ctx *pulumi.Context, cfg *config.Config) (meshSource, error) {
	if cfg.Provider != config.ProviderLocal {
		return meshSource{}, nil
	}
	m := env.LocalMesh
	if m == nil {
		cache, log, err := env.cache()
		if err != nil {
			return meshSource{}, err
		}
		if m, err = bundle.EnsureMesh(ctx.Context(), cache, log, cfg.Istio.Version); err != nil {
			return meshSource{}, err
		}
	}
	if cfg.Istio.Version != m.Version {
		return meshSource{}, fmt.Errorf("istio.version is %s, but the local mesh bundle given is Istio %s", cfg.Istio.Version, m.Version)
	}
	// Said on every up, as the injected namespaces would otherwise surprise:
	// Istio's default injection template adds an Envoy sidecar.
	ctx.Log.Warn("no Envoy binary exists offline: in the injected namespaces only proxyless gRPC pods "+
		"(annotation inject.istio.io/templates: grpc-agent) can start; pods given an Envoy sidecar will not run. "+
		"The report's Envoy rows stay NOT MEASURABLE.", nil)
	src := meshSource{
		Source: mesh.Source{Charts: m.Charts, Hub: m.Hub, Tag: m.Tag, PullPolicy: "Never", Pilot: m.Pilot, Proxy: m.Proxy},
		Addons: map[string]string{}, Missing: map[string]string{}, Probe: m.Probe, Fortio: m.Fortio, NodeExporter: m.NodeExporter,
		NoSidecars: "no Envoy binary exists offline: the sidecar runs (STRICT and mTLS disabled) need Envoy; the baseline without a mesh ran, " +
			"and mTLS without a proxy is the mtls-overhead-proxyless row",
	}
	images := m.Images
	if cv := cfg.Istio.Canary.Version; cv != "" {
		c := env.LocalCanaryMesh
		if c == nil {
			cache, log, err := env.cache()
			if err != nil {
				return meshSource{}, err
			}
			if c, err = bundle.EnsureMesh(ctx.Context(), cache, log, cv); err != nil {
				return meshSource{}, fmt.Errorf("istio.canary: %w", err)
			}
		}
		if c.Version != cv {
			return meshSource{}, fmt.Errorf("istio.canary.version is %s, but the local mesh bundle given is Istio %s", cv, c.Version)
		}
		src.Canary = mesh.Source{Charts: c.Charts, Hub: c.Hub, Tag: c.Tag, PullPolicy: "Never", Pilot: c.Pilot, Proxy: c.Proxy}
		// The canary's istiod and proxy; the rest (Prometheus, probes) are the stable bundle's.
		for _, im := range c.Images {
			if strings.HasSuffix(im.Ref, ":"+c.Tag) {
				images = append(images, im)
			}
		}
	}
	for _, im := range images {
		tarball, err := onNode(filepath.Dir(m.Dir), im.Path)
		if err != nil {
			return meshSource{}, err
		}
		src.Images = append(src.Images, contract.Image{Ref: im.Ref, Tarball: tarball})
	}
	for _, a := range cfg.Addons {
		switch a {
		case "prometheus":
			manifest, err := os.ReadFile(filepath.Join(m.Addons, "prometheus.yaml"))
			if err != nil {
				return meshSource{}, fmt.Errorf("addon prometheus: %w", err)
			}
			// meshready's alerting rules, the report's thresholds (report.AlertRules).
			rules, err := report.AlertRules(cfg.Benchmarks.Thresholds)
			if err != nil {
				return meshSource{}, fmt.Errorf("addon prometheus: %w", err)
			}
			y, err := mesh.LocalAddon(manifest, map[string]string{m.PrometheusUpstream: m.Prometheus}, []string{"prometheus-server-configmap-reload"},
				map[string]string{"alerting_rules.yml": string(rules)})
			if err != nil {
				return meshSource{}, fmt.Errorf("addon prometheus: %w", err)
			}
			src.Addons[a] = y
		case "kiali":
			src.Missing[a] = "no Kiali image exists offline (github.com/kiali/kiali is not in the module proxy)"
		}
	}
	return src, nil
}

package stacks

import (
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/utilities"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// helmRelease registers a kubernetes:helm.sh/v3:Release with args (keys
// as helm/v3.ReleaseArgs names them), as helm/v3.NewRelease does. Direct
// for the reason below: the SDK's helm/v3 package imports its yaml (v1)
// package, and so every API group's types.
func helmRelease(ctx *pulumi.Context, name string, args pulumi.Map, opts ...pulumi.ResourceOption) (pulumi.Resource, error) {
	args["compat"] = pulumi.String("true") // what NewRelease sets
	var r pulumi.CustomResourceState
	err := ctx.RegisterResource("kubernetes:helm.sh/v3:Release", name, args, &r, utilities.PkgResourceDefaultOpts(opts)...)
	return &r, err
}

// yamlComponent is a pulumi-kubernetes yaml/v2 component: the plugin
// parses the manifests and registers every object as its own resource.
//
// Registered here directly, not through the SDK's yaml/v2 package: that
// package imports every Kubernetes API group's generated types (to hand
// back typed children we never read), which doubled meshready's binary and
// its cold build. The component, its inputs and the plugin's work are the
// same; its URNs too.
type yamlComponent struct {
	pulumi.ResourceState
}

// configGroup registers a kubernetes:yaml/v2:ConfigGroup with args
// ("objs" or "yaml", as yaml/v2.ConfigGroupArgs names them).
func configGroup(ctx *pulumi.Context, name string, args pulumi.Map, opts ...pulumi.ResourceOption) (pulumi.Resource, error) {
	var c yamlComponent
	err := ctx.RegisterRemoteComponentResource("kubernetes:yaml/v2:ConfigGroup", name, args, &c, utilities.PkgResourceDefaultOpts(opts)...)
	return &c, err
}

// configFile registers a kubernetes:yaml/v2:ConfigFile of the manifest at url.
func configFile(ctx *pulumi.Context, name, url string, opts ...pulumi.ResourceOption) (pulumi.Resource, error) {
	var c yamlComponent
	err := ctx.RegisterRemoteComponentResource("kubernetes:yaml/v2:ConfigFile", name, pulumi.Map{"file": pulumi.String(url)}, &c, utilities.PkgResourceDefaultOpts(opts)...)
	return &c, err
}

// Command pulumi-resource-kubernetes is the pulumi-kubernetes provider plugin,
// built from the Go module proxy for the local stack (which has no plugin
// registry). Upstream's main embeds schema-embed.json and
// terraform-mapping-embed.json, which its release build generates and the
// module zip lacks; toolchain copies the module's schema.json and
// terraform-mapping.json beside this file in a scratch copy before building
// (Tool.Embed), so nothing generated lives in the clone.
package main

import (
	_ "embed"

	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version"
)

//go:embed schema.json
var pulumiSchema []byte

//go:embed terraform-mapping.json
var terraformMapping []byte

func main() {
	provider.Serve("kubernetes", version.Version, pulumiSchema, terraformMapping)
}

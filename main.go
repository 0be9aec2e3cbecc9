// Command meshready provisions mesh-ready Kubernetes clusters, one Pulumi stack
// per region. Started by the Pulumi engine (plain `pulumi up`), it runs the
// program; started by a person or CI, it is the meshready CLI, which runs the
// same program through the Automation API.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/meshready/meshready/cli"
	"github.com/meshready/meshready/config"
	"github.com/meshready/meshready/plugin"
	"github.com/meshready/meshready/stacks"
	"github.com/meshready/meshready/version"
)

func main() {
	// The engine starts the resource provider plugin through a symlink named
	// pulumi-resource-meshready: the same binary serves it.
	if filepath.Base(os.Args[0]) == plugin.Name {
		if err := plugin.Serve(version.Version); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	// The Go language host starts the program with the engine's address in PULUMI_MONITOR.
	if os.Getenv("PULUMI_MONITOR") != "" {
		raw, err := config.FromEngineEnv(os.Getenv)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		pulumi.Run(stacks.Program(raw, stacks.Env{}))
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

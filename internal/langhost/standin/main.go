// Command standin is the test-only stand-in for pulumi-language-go (see
// package langhost): tests build it as pulumi-language-go on the PATH of
// the Pulumi CLI they run. Like every Pulumi plugin it takes the engine's
// address as its last argument and prints the port it serves on.
package main

import (
	"fmt"
	"os"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"

	"github.com/meshready/meshready/internal/langhost"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: pulumi-language-go [flags] ENGINE_ADDRESS (a test-only stand-in)")
		os.Exit(2)
	}
	h := &langhost.Host{Engine: os.Args[len(os.Args)-1], Stdout: os.Stdout, Stderr: os.Stderr}
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Init: func(s *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(s, h)
			return nil
		},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

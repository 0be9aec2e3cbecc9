// Package langhost is a stand-in for pulumi-language-go, used only by
// tests. Plain `pulumi up` on a Go project needs Pulumi's Go language host,
// pulumi-language-go, which is not in the module proxy this project builds
// from; without it no test could run the path a user with a stock Pulumi
// install takes. This host serves the same LanguageRuntime gRPC API for
// the calls `pulumi preview`, `up` and `destroy` make, and runs the
// program the way pulumi-language-go runs a compiled program: `go build`
// of the program's folder (or the runtime's `binary` option), then that
// binary with the engine's settings in the PULUMI_* variables
// pulumi.Run reads. It is never shipped nor used outside tests: users run
// the real pulumi-language-go that comes with Pulumi.
package langhost

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/emptypb"
)

// Version is what GetPluginInfo reports: not a Pulumi release.
const Version = "0.0.0-meshready-test-stand-in"

// bailExitCode is the exit code pulumi.Run ends a program with once the
// error was already reported to the engine (the program "bails").
const bailExitCode = 32

// Host serves the LanguageRuntime API.
type Host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer
	// Engine is the engine's address, the plugin's last argument.
	Engine string
	// Stdout and Stderr get the program's output and the build's.
	Stdout, Stderr io.Writer
}

func (h *Host) Handshake(context.Context, *pulumirpc.LanguageHandshakeRequest) (*pulumirpc.LanguageHandshakeResponse, error) {
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *Host) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: Version}, nil
}

// GetRequiredPlugins and GetRequiredPackages name none: the engine then
// loads each provider when the program first registers one of its
// resources, which is all a run needs (pulumi-language-go reads them from
// `go list` for `pulumi plugin install`).
func (h *Host) GetRequiredPlugins(context.Context, *pulumirpc.GetRequiredPluginsRequest) (*pulumirpc.GetRequiredPluginsResponse, error) {
	return &pulumirpc.GetRequiredPluginsResponse{}, nil
}

func (h *Host) GetRequiredPackages(context.Context, *pulumirpc.GetRequiredPackagesRequest) (*pulumirpc.GetRequiredPackagesResponse, error) {
	return &pulumirpc.GetRequiredPackagesResponse{}, nil
}

// Run builds the program and runs it. A program that fails says so in the
// response (Bail when it already reported its error to the engine); an
// error of the call itself is for the host's own failures.
func (h *Host) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	dir := req.GetPwd()
	if info := req.GetInfo(); info != nil && info.GetProgramDirectory() != "" {
		dir = info.GetProgramDirectory()
	}
	bin, cleanup, err := h.program(ctx, dir, req.GetInfo())
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	defer cleanup()
	env, err := Env(req, h.Engine)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, bin, req.GetArgs()...)
	cmd.Dir = req.GetPwd()
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = h.Stdout, h.Stderr
	err = cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return &pulumirpc.RunResponse{}, nil
	case errors.As(err, &exit) && exit.ExitCode() == bailExitCode:
		return &pulumirpc.RunResponse{Bail: true}, nil
	case errors.As(err, &exit):
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("program exited with non-zero exit code: %d", exit.ExitCode())}, nil
	default:
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("running program %s: %v", bin, err)}, nil
	}
}

// program is the binary to run: the runtime's `binary` option (relative to
// the program's folder), else a `go build` of that folder.
func (h *Host) program(ctx context.Context, dir string, info *pulumirpc.ProgramInfo) (string, func(), error) {
	if b := info.GetOptions().GetFields()["binary"].GetStringValue(); b != "" {
		if !filepath.IsAbs(b) {
			b = filepath.Join(dir, b)
		}
		return b, func() {}, nil
	}
	tmp, err := os.MkdirTemp("", "pulumi-go-program-")
	if err != nil {
		return "", nil, err
	}
	cleanup := func() { os.RemoveAll(tmp) }
	bin := filepath.Join(tmp, "program")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	build.Dir = dir
	if out, err := build.CombinedOutput(); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("go build in %s: %v\n%s", dir, err, out)
	}
	return bin, cleanup, nil
}

// Env is what pulumi.Run reads of the engine's settings.
func Env(req *pulumirpc.RunRequest, engine string) ([]string, error) {
	cfg, err := json.Marshal(req.GetConfig())
	if err != nil {
		return nil, err
	}
	keys := req.GetConfigSecretKeys()
	if keys == nil {
		keys = []string{}
	}
	secretKeys, err := json.Marshal(keys)
	if err != nil {
		return nil, err
	}
	root := req.GetInfo().GetRootDirectory()
	if root == "" {
		root = req.GetPwd()
	}
	return []string{
		"PULUMI_ORGANIZATION=" + req.GetOrganization(),
		"PULUMI_PROJECT=" + req.GetProject(),
		"PULUMI_STACK=" + req.GetStack(),
		"PULUMI_ROOT_DIRECTORY=" + root,
		"PULUMI_CONFIG=" + string(cfg),
		"PULUMI_CONFIG_SECRET_KEYS=" + string(secretKeys),
		"PULUMI_PARALLEL=" + strconv.Itoa(int(req.GetParallel())),
		"PULUMI_DRY_RUN=" + strconv.FormatBool(req.GetDryRun()),
		"PULUMI_MONITOR=" + req.GetMonitorAddress(),
		"PULUMI_ENGINE=" + engine,
	}, nil
}

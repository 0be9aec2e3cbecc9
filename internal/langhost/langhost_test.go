package langhost

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/structpb"
)

// The engine's settings reach the program in the variables pulumi.Run
// reads (sdk/go/pulumi/run.go getEnvInfo).
func TestEnv(t *testing.T) {
	req := &pulumirpc.RunRequest{Project: "meshready", Stack: "hel1", Organization: "organization", Pwd: "/src",
		Config: map[string]string{"meshready:region": "hel1", "hetzner:token": "tok"}, ConfigSecretKeys: []string{"hetzner:token"},
		DryRun: true, Parallel: 16, MonitorAddress: "127.0.0.1:4001", Info: &pulumirpc.ProgramInfo{RootDirectory: "/src"}}
	got, err := Env(req, "127.0.0.1:4000")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"PULUMI_ORGANIZATION=organization", "PULUMI_PROJECT=meshready", "PULUMI_STACK=hel1", "PULUMI_ROOT_DIRECTORY=/src",
		`PULUMI_CONFIG={"hetzner:token":"tok","meshready:region":"hel1"}`, `PULUMI_CONFIG_SECRET_KEYS=["hetzner:token"]`,
		"PULUMI_PARALLEL=16", "PULUMI_DRY_RUN=true", "PULUMI_MONITOR=127.0.0.1:4001", "PULUMI_ENGINE=127.0.0.1:4000",
	}
	if !slices.Equal(got, want) {
		t.Errorf("Env =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// Run runs the runtime's binary with the settings, and tells a program
// that bailed (exit 32: its error already reported) from one that failed.
func TestRunExitCodes(t *testing.T) {
	dir := t.TempDir()
	prog := filepath.Join(dir, "prog")
	if err := os.WriteFile(prog, []byte("#!/bin/sh\necho \"stack=$PULUMI_STACK dry=$PULUMI_DRY_RUN\"\nexit \"$1\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	opts, _ := structpb.NewStruct(map[string]any{"binary": "prog"})
	for code, want := range map[string]*pulumirpc.RunResponse{
		"0":  {},
		"32": {Bail: true},
		"3":  {Error: "program exited with non-zero exit code: 3"},
	} {
		var out bytes.Buffer
		h := &Host{Engine: "127.0.0.1:1", Stdout: &out, Stderr: &out}
		got, err := h.Run(t.Context(), &pulumirpc.RunRequest{Stack: "s", DryRun: true, Pwd: dir, Args: []string{code},
			Info: &pulumirpc.ProgramInfo{ProgramDirectory: dir, Options: opts}})
		if err != nil || got.GetBail() != want.Bail || got.GetError() != want.Error {
			t.Errorf("exit %s: %v, %v; want %v", code, got, err, want)
		}
		if out.String() != "stack=s dry=true\n" {
			t.Errorf("exit %s: output %q", code, out.String())
		}
	}
	// A program that does not build says why, as the response's error.
	h := &Host{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}}
	got, err := h.Run(t.Context(), &pulumirpc.RunRequest{Pwd: dir, Info: &pulumirpc.ProgramInfo{ProgramDirectory: dir}})
	if err != nil || !strings.Contains(got.GetError(), "go build in "+dir) {
		t.Errorf("no program: %v, %v", got, err)
	}
}

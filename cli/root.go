// Package cli is the meshready command line: the same Pulumi program as a
// plain `pulumi up`, driven through the Automation API with embedded defaults.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/meshready/meshready/config"
	"github.com/meshready/meshready/ops"
	"github.com/meshready/meshready/toolchain"
)

// Exit codes a CI system can branch on.
const (
	ExitOK       = 0
	ExitFailed   = 1
	ExitBadInput = 2
)

// badInput marks errors that are the caller's to fix (flags, config): exit 2.
type badInput = ops.BadInput

func badInputf(format string, args ...any) error { return ops.Inputf(format, args...) }

// app is what every command shares; built once in Main, passed explicitly.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	log            *slog.Logger

	projectDir      string
	verbose         bool
	secretsProvider string
	// jsonOut: the command was asked for --json, so an error goes to
	// stdout as JSON too (jsonError), for the machine that reads it.
	jsonOut bool
}

// Main runs the CLI and returns the process exit code.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv}
	root := a.rootCmd()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	code := ExitFailed
	var probs config.Problems
	var bi badInput
	if errors.As(err, &probs) || errors.As(err, &bi) {
		code = ExitBadInput
	}
	if a.jsonOut {
		json.NewEncoder(stdout).Encode(jsonError(code, err))
	}
	if errors.As(err, &probs) {
		// One line per problem, each naming its key: easy to read and to grep.
		fmt.Fprintln(stderr, probs.Error())
		return code
	}
	fmt.Fprintln(stderr, "error:", err)
	return code
}

// JSONError is how every --json command reports a failure on stdout: the
// exit code, the message, and each config problem with its key.
type JSONError struct {
	Error struct {
		Exit     int           `json:"exit"`
		Message  string        `json:"message"`
		Problems []JSONProblem `json:"problems,omitempty"`
	} `json:"error"`
}

// JSONProblem is one config problem.
type JSONProblem struct {
	Key     string `json:"key"`
	Message string `json:"message"`
}

func jsonError(code int, err error) JSONError {
	var e JSONError
	e.Error.Exit, e.Error.Message = code, err.Error()
	var probs config.Problems
	if errors.As(err, &probs) {
		for _, p := range probs {
			e.Error.Problems = append(e.Error.Problems, JSONProblem{Key: p.Key, Message: p.Msg})
		}
	}
	return e
}

func (a *app) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "meshready",
		Short: "Provision mesh-ready Kubernetes clusters on KVM/NVMe nodes, with a benchmark report per region",
		Long: `meshready runs one Pulumi program per stack (= a region): nodes, Kubernetes, Istio, benchmarks.
The same program runs under a plain 'pulumi up'; meshready adds embedded defaults: a file
backend under .meshready/state (unless PULUMI_BACKEND_URL is set) and a generated passphrase
in .meshready/passphrase (unless PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE is set).`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			level := slog.LevelInfo
			if a.verbose {
				level = slog.LevelDebug
			}
			a.log = slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: level}))
			if a.projectDir == "" {
				dir, err := findProject()
				if err != nil {
					return badInput{Err: err}
				}
				a.projectDir = dir
			}
			return nil
		},
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return badInput{Err: err} })
	pf := root.PersistentFlags()
	pf.StringVar(&a.projectDir, "project-dir", "", "the meshready project (default: the nearest folder upwards with Pulumi.yaml)")
	pf.BoolVarP(&a.verbose, "verbose", "v", false, "debug logs")
	pf.StringVar(&a.secretsProvider, "secrets-provider", getenvOr(a.getenv, "MESHREADY_SECRETS_PROVIDER", "passphrase"),
		"secrets provider for new stacks: passphrase or a KMS URL (awskms://, gcpkms://, azurekeyvault://, hashivault://)")

	root.AddCommand(
		a.validateCmd(),
		a.lifecycleCmd("up", "Create or update a stack's resources"),
		a.lifecycleCmd("preview", "Show what up would change, changing nothing"),
		a.lifecycleCmd("refresh", "Read the real state of a stack's resources into its state"),
		a.lifecycleCmd("destroy", "Delete every resource of a stack"),
		a.outputsCmd(),
		a.nodeCmd(),
		a.etcdCmd(),
		a.conformanceCmd(),
		a.benchCmd(),
		a.reportCmd(),
		a.toolsCmd(),
		a.envCmd(),
		a.gcCmd(),
	)
	return root
}

func getenvOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}

// findProject walks up from the working directory to the folder with Pulumi.yaml.
func findProject() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "Pulumi.yaml")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no Pulumi.yaml here or above: run meshready inside its clone, or pass --project-dir")
		}
		dir = parent
	}
}

// cache is the tool cache for this project.
func (a *app) cache() (toolchain.Cache, error) {
	dir, err := toolchain.DefaultDir(a.getenv)
	if err != nil {
		return toolchain.Cache{}, err
	}
	return toolchain.Cache{Dir: dir, ProjectDir: a.projectDir, Log: a.log}, nil
}

// Package engine is meshready's one seam to Pulumi. It finds (or builds) the
// Pulumi CLI, applies the embedded defaults (a file backend under .meshready/
// and the passphrase secrets provider) and opens stacks whose program is the
// one in package stacks, through the Automation API.
package engine

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/meshready/meshready/config"
	"github.com/meshready/meshready/toolchain"
)

// PulumiTool is the Pulumi CLI built from pkg/v3. The Automation API refuses a
// CLI without a version stamp, hence the ldflag.
func PulumiTool() toolchain.Tool {
	return toolchain.Tool{
		Name:    "pulumi",
		Module:  "github.com/pulumi/pulumi/pkg/v3",
		Package: "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi",
		Binary:  "pulumi",
		Ldflags: func(v string) string {
			return "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=" + v
		},
		Took: "about 4 minutes on 2 cores",
	}
}

// KubernetesPluginTool is the pulumi-kubernetes provider plugin, for stacks
// with a mesh. The local stack has no plugin registry, so it is built from
// provider/v4 (the module proxy has it only as a pseudo-version); the
// module's main embeds files its release build generates, so a main of ours
// embeds the module's schema.json and terraform-mapping.json (Embed).
func KubernetesPluginTool() toolchain.Tool {
	const mod = "github.com/pulumi/pulumi-kubernetes/provider/v4"
	return toolchain.Tool{
		Name:    "pulumi-kubernetes",
		Module:  mod,
		Package: ".",
		Binary:  "pulumi-resource-kubernetes",
		Embed:   []string{"cmd/pulumi-resource-kubernetes/schema.json", "cmd/pulumi-resource-kubernetes/terraform-mapping.json"},
		Ldflags: func(v string) string { return "-X " + mod + "/pkg/version.Version=" + strings.TrimPrefix(v, "v") },
		Took:    "about 7 minutes on 2 cores",
	}
}

// KubernetesPluginDir is where the engine finds the pulumi-kubernetes plugin
// (on PATH, see Open): a link to the built tool (EnsureKubernetesPlugin).
const KubernetesPluginDir = StateDir + "/plugins/kubernetes"

// EnsureKubernetesPlugin builds the pulumi-kubernetes plugin once per pin and
// links KubernetesPluginDir to it. Stacks without a mesh never need it.
func (p *Project) EnsureKubernetesPlugin(ctx context.Context) error {
	root, err := p.cache.Ensure(ctx, KubernetesPluginTool())
	if err != nil {
		return err
	}
	return link(filepath.Join(p.Dir, KubernetesPluginDir), filepath.Join(root, "bin"))
}

// link points path at target (a symlink), replacing what was there atomically.
func link(path, target string) error {
	if cur, err := os.Readlink(path); err == nil && cur == target {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("link %s: %w", path, err)
	}
	if fi, err := os.Lstat(path); err == nil && fi.IsDir() {
		os.Remove(path) // the empty stand-in Open made; rename cannot replace a folder
	}
	tmp := fmt.Sprintf("%s.%d", path, os.Getpid())
	os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		return fmt.Errorf("link %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("link %s: %w", path, err)
	}
	return nil
}

// StateDir is the project-relative folder of meshready's local files: the file
// backend's state, the generated passphrase. It is gitignored.
const StateDir = ".meshready"

// Options says where the project is and how to reach Pulumi.
type Options struct {
	ProjectDir string
	Cache      toolchain.Cache
	// SecretsProvider is used when a stack is created: "passphrase" (default) or a
	// KMS URL such as awskms://..., gcpkms://..., azurekeyvault://..., hashivault://...
	SecretsProvider string
	Getenv          func(string) string
	Log             *slog.Logger
	// PluginBinary serves the meshready provider plugin: the running meshready
	// binary by default (tests point it at a freshly built one).
	PluginBinary string
}

// Project is an opened meshready project.
type Project struct {
	Dir string
	// workDir is where Pulumi runs and finds Pulumi.yaml: Dir, or the env
	// workspace (EnvWorkspace).
	workDir         string
	Name            string
	StackConfigDir  string
	secretsProvider string
	cache           toolchain.Cache
	getenv          func(string) string
	cmd             auto.PulumiCommand
	env             map[string]string
	// backendURL is where the state lives: PULUMI_BACKEND_URL or Pulumi.yaml's.
	backendURL string
	log        *slog.Logger
}

// Open loads Pulumi.yaml and prepares the defaults. The Pulumi CLI is built on
// first use, so commands that only read files (validate) never wait for it.
func Open(o Options) (*Project, error) {
	// Absolute, so that what is made of it (the plugins' PATH, a relative
	// file backend's folder) does not depend on where a command runs.
	dir, err := filepath.Abs(o.ProjectDir)
	if err != nil {
		return nil, fmt.Errorf("project dir: %w", err)
	}
	o.ProjectDir = dir
	proj, err := workspace.LoadProject(filepath.Join(o.ProjectDir, "Pulumi.yaml"))
	if err != nil {
		return nil, fmt.Errorf("project %s: %w", o.ProjectDir, err)
	}
	p := &Project{
		Dir:             o.ProjectDir,
		workDir:         o.ProjectDir,
		Name:            string(proj.Name),
		StackConfigDir:  proj.StackConfigDir,
		secretsProvider: o.SecretsProvider,
		cache:           o.Cache,
		getenv:          o.Getenv,
		env: map[string]string{
			"PULUMI_SKIP_UPDATE_CHECK": "true",
			// Pulumi writes the passphrase salt into the stack file; when that file is
			// reset to the committed one, take the salt from the state instead of
			// minting a new one that could not decrypt the state's secrets.
			"PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER": "true",
		},
	}
	if p.secretsProvider == "" {
		p.secretsProvider = "passphrase"
	}
	// What the Pulumi CLI (and the plugins it starts) read of the
	// environment is handed to it from the command's environment
	// (o.Getenv), not only inherited from meshready's process: one process
	// can run commands with environments of their own (a daemon, the
	// tests). Empty means unset; PULUMI_CONFIG_PASSPHRASE set to "" would
	// be an empty passphrase to Pulumi.
	for _, k := range []string{"PULUMI_HOME", "PULUMI_BACKEND_URL", "PULUMI_ACCESS_TOKEN",
		"PULUMI_CONFIG_PASSPHRASE", "PULUMI_CONFIG_PASSPHRASE_FILE", "VAULT_ADDR", "VAULT_TOKEN", "MESHREADY_CACHE"} {
		if v := o.Getenv(k); v != "" {
			p.env[k] = v
		}
	}
	p.backendURL = o.Getenv("PULUMI_BACKEND_URL")
	if p.backendURL == "" && proj.Backend != nil {
		p.backendURL = proj.Backend.URL
	}
	p.log = o.Log
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if o.Getenv("PULUMI_BACKEND_URL") == "" {
		// Pulumi.yaml names file://.meshready/state; the folder must exist.
		if err := os.MkdirAll(filepath.Join(p.Dir, StateDir, "state"), 0o700); err != nil {
			return nil, fmt.Errorf("state dir: %w", err)
		}
	}
	if f := o.Getenv("PULUMI_CONFIG_PASSPHRASE_FILE"); f != "" && o.Getenv("PULUMI_CONFIG_PASSPHRASE") == "" {
		if err := checkPassphraseFile(f); err != nil {
			return nil, err
		}
	}
	if p.secretsProvider == "passphrase" && o.Getenv("PULUMI_CONFIG_PASSPHRASE") == "" && o.Getenv("PULUMI_CONFIG_PASSPHRASE_FILE") == "" {
		f, err := ensurePassphrase(filepath.Join(p.Dir, StateDir, "passphrase"))
		if err != nil {
			return nil, err
		}
		p.env["PULUMI_CONFIG_PASSPHRASE_FILE"] = f
	}
	if err := linkPlugin(p.Dir, o.PluginBinary); err != nil {
		return nil, err
	}
	// The engine finds the plugins meshready built on PATH, as Pulumi's
	// "ambient" plugins, ahead of any other copy there: Pulumi.yaml names no
	// plugin path, so it works as committed for a plain `pulumi up` too.
	p.env["PATH"] = strings.Join([]string{filepath.Join(p.Dir, PluginDir), filepath.Join(p.Dir, KubernetesPluginDir), o.Getenv("PATH")}, string(os.PathListSeparator))
	p.env["PULUMI_IGNORE_AMBIENT_PLUGINS"] = "false"
	return p, nil
}

// PluginDir is where the engine finds the meshready plugin (on PATH, see Open).
const PluginDir = StateDir + "/bin"

// linkPlugin points .meshready/bin/pulumi-resource-meshready at the binary that
// serves the plugin, so the engine runs the same code as this meshready.
func linkPlugin(projectDir, binary string) error {
	if binary == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("plugin: %w", err)
		}
		binary = exe
	}
	return link(filepath.Join(projectDir, PluginDir, "pulumi-resource-meshready"), binary)
}

// cli returns the Pulumi CLI, building it the first time this pin is used.
func (p *Project) cli(ctx context.Context) (auto.PulumiCommand, error) {
	if p.cmd != nil {
		return p.cmd, nil
	}
	root, err := p.cache.Ensure(ctx, PulumiTool())
	if err != nil {
		return nil, err
	}
	p.cmd, err = auto.NewPulumiCommand(&auto.PulumiCommandOptions{Root: root})
	if err != nil {
		return nil, fmt.Errorf("pulumi CLI in %s: %w", root, err)
	}
	return p.cmd, nil
}

// StackFile is the path of a stack's config file.
func (p *Project) StackFile(stack string) string {
	return filepath.Join(p.workDir, p.StackConfigDir, "Pulumi."+stack+".yaml")
}

// ReadStackFile reads a stack's config straight from its file, without touching
// the backend: what validate uses, and what up checks before it starts.
func (p *Project) ReadStackFile(stack string) (config.Raw, error) {
	raw, err := config.ReadStackFile(p.StackFile(stack))
	if err != nil {
		return raw, err
	}
	raw.AddEnv(p.getenv)
	return raw, nil
}

func (p *Project) options(ctx context.Context) ([]auto.LocalWorkspaceOption, error) {
	cmd, err := p.cli(ctx)
	if err != nil {
		return nil, err
	}
	return []auto.LocalWorkspaceOption{
		auto.WorkDir(p.workDir),
		auto.Pulumi(cmd),
		auto.EnvVars(p.env),
		auto.SecretsProvider(p.secretsProvider),
	}, nil
}

// Upsert selects or creates a stack whose program is program(config); the
// config is the one the engine holds for the stack, read right after the
// prepare functions ran (they may set config and tags on the new stack).
func (p *Project) Upsert(ctx context.Context, stack string, program func(config.Raw) pulumi.RunFunc, prepare ...func(context.Context, auto.Stack) error) (auto.Stack, error) {
	var raw config.Raw
	run := func(pctx *pulumi.Context) error { return program(raw)(pctx) }
	opts, err := p.options(ctx)
	if err != nil {
		return auto.Stack{}, err
	}
	st, err := auto.UpsertStackInlineSource(ctx, stack, p.Name, run, opts...)
	if err != nil {
		return st, fmt.Errorf("stack %s: %w", stack, err)
	}
	for _, f := range prepare {
		if err := f(ctx, st); err != nil {
			return st, fmt.Errorf("stack %s: %w", stack, err)
		}
	}
	all, err := st.GetAllConfig(ctx)
	if err != nil {
		return st, fmt.Errorf("stack %s: read config: %w", stack, err)
	}
	raw = config.Raw{Values: map[string]string{}, Secrets: map[string]bool{}}
	for k, v := range all {
		raw.Values[k] = v.Value
		raw.Secrets[k] = v.Secret
	}
	raw.AddEnv(p.getenv)
	return st, nil
}

// Select opens a stack that exists already.
func (p *Project) Select(ctx context.Context, stack string) (auto.Stack, error) {
	opts, err := p.options(ctx)
	if err != nil {
		return auto.Stack{}, err
	}
	st, err := auto.SelectStackInlineSource(ctx, stack, p.Name, func(*pulumi.Context) error {
		return errors.New("this stack was opened read-only")
	}, opts...)
	if err != nil {
		return st, fmt.Errorf("stack %s: %w", stack, err)
	}
	return st, nil
}

// Workspace is the project's Pulumi workspace without a stack selected: for
// listing stacks and reading their tags.
func (p *Project) Workspace(ctx context.Context) (auto.Workspace, error) {
	opts, err := p.options(ctx)
	if err != nil {
		return nil, err
	}
	ws, err := auto.NewLocalWorkspace(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("workspace %s: %w", p.workDir, err)
	}
	return ws, nil
}

// EnvDir is the workspace of CI environments (see EnvWorkspace).
const EnvDir = StateDir + "/envs"

// EnvWorkspace is the project as CI environments see it: the same program,
// backend, plugins and secrets, but stack files under .meshready/envs, so
// that throw-away stacks never write into the committed stacks/ folder.
func (p *Project) EnvWorkspace() (*Project, error) {
	dir := filepath.Join(p.Dir, EnvDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("env workspace: %w", err)
	}
	backend := p.backendURL
	if root, ok := p.fileBackendRoot(); ok {
		backend = "file://" + root
	}
	proj := workspace.Project{
		Name:           tokens.PackageName(p.Name),
		Runtime:        workspace.NewProjectRuntimeInfo("go", nil),
		StackConfigDir: ".",
		// The plugins are found on the PATH Open set, as for the project.
	}
	if backend != "" {
		proj.Backend = &workspace.ProjectBackend{URL: backend}
	}
	desc := "CI environments of " + p.Dir + " (written by meshready env; do not edit)"
	proj.Description = &desc
	// Two CI jobs may write it at once: each writes its own file and renames
	// it into place, so Pulumi never reads half a file.
	final := filepath.Join(dir, "Pulumi.yaml")
	tmp := fmt.Sprintf("%s.%d.yaml", final, os.Getpid())
	if err := proj.Save(tmp); err != nil {
		return nil, fmt.Errorf("env workspace: %w", err)
	}
	if err := os.Rename(tmp, final); err != nil {
		return nil, fmt.Errorf("env workspace: %w", err)
	}
	e := *p
	e.workDir, e.StackConfigDir, e.cmd = dir, ".", p.cmd
	e.backendURL = backend
	return &e, nil
}

// SetSecret stores a secret config value for an existing stack, handing it to
// the Pulumi CLI on stdin. The Automation API's SetConfig puts the value on
// the CLI's command line, which every user of the machine can read in
// /proc/PID/cmdline; `pulumi config set KEY --secret` reads it from a
// non-terminal stdin instead (--raw: exactly as given, newlines kept).
func (p *Project) SetSecret(ctx context.Context, stack, key, value string) error {
	cmd, err := p.cli(ctx)
	if err != nil {
		return err
	}
	env := make([]string, 0, len(p.env))
	for k, v := range p.env {
		env = append(env, k+"="+v)
	}
	_, stderr, _, err := cmd.Run(ctx, p.workDir, strings.NewReader(value), nil, nil, env,
		"config", "set", "--stack", stack, "--secret", "--raw", key)
	if err != nil {
		return fmt.Errorf("stack %s: set secret %s: %s: %w", stack, key, strings.TrimSpace(stderr), err)
	}
	return nil
}

// Owner is this project's state, as a label value: the first 16 hex digits
// of SHA-256 over the backend and the project's name. A file backend is
// known by an ID made at random in its folder the first time
// (BackendIDFile), not by its path: the same path on another machine (CI
// runners, devcontainers) or a relative one is another backend. Others are
// known by their URL without credentials, and by this machine's ID too
// when the URL names this machine (localhost, a loopback address, a local
// socket). Every clone that shares the backend has the same owner; another
// checkout with a backend of its own has another. Users of one Pulumi Cloud
// service share its URL, hence an owner.
func (p *Project) Owner() (string, error) {
	var backend string
	if root, ok := p.fileBackendRoot(); ok {
		id, err := backendID(root)
		if err != nil {
			return "", err
		}
		backend = "file backend " + id
	} else {
		u, err := url.Parse(p.backendURL)
		if err != nil {
			return "", fmt.Errorf("backend URL: %w", err)
		}
		u.User = nil
		backend = u.String()
		if host := u.Hostname(); host == "" || host == "localhost" || isLoopback(host) {
			backend += "\x00" + machineID()
		}
	}
	sum := sha256.Sum256([]byte(backend + "\x00" + p.Name))
	return hex.EncodeToString(sum[:8]), nil
}

// BackendIDFile, in a file backend's folder, holds the backend's ID
// (Owner): 32 hex digits.
const BackendIDFile = "meshready-backend-id"

// backendID reads the backend's ID in root, making it the first time. Two
// makers at once agree: the ID is linked into place, and the loser reads
// the winner's.
func backendID(root string) (string, error) {
	f := filepath.Join(root, BackendIDFile)
	read := func() (string, error) {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		id := strings.TrimSpace(string(b))
		if len(id) != 32 || strings.Trim(id, "0123456789abcdef") != "" {
			return "", fmt.Errorf("backend ID %s holds %q, not 32 hex digits: put back the file this backend had (what meshready made is labelled with it), or remove it to start a new ID", f, id)
		}
		return id, nil
	}
	if id, err := read(); !errors.Is(err, fs.ErrNotExist) {
		return id, err
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return "", fmt.Errorf("backend ID: %w", err)
	}
	tmp, err := os.CreateTemp(root, "."+BackendIDFile+"-")
	if err != nil {
		return "", fmt.Errorf("backend ID: %w", err)
	}
	defer os.Remove(tmp.Name())
	raw := make([]byte, 16)
	if _, err := rand.Read(raw); err != nil {
		tmp.Close()
		return "", fmt.Errorf("backend ID: %w", err)
	}
	_, werr := tmp.WriteString(hex.EncodeToString(raw) + "\n")
	if err := errors.Join(werr, tmp.Sync(), tmp.Close()); err != nil {
		return "", fmt.Errorf("backend ID: %w", err)
	}
	if err := os.Link(tmp.Name(), f); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", fmt.Errorf("backend ID: %w", err)
	}
	return read()
}

// isLoopback says whether host is a loopback address.
func isLoopback(host string) bool {
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// machineID is this machine's systemd machine ID, or its host name.
func machineID() string {
	if b, err := os.ReadFile("/etc/machine-id"); err == nil && len(bytes.TrimSpace(b)) > 0 {
		return string(bytes.TrimSpace(b))
	}
	h, _ := os.Hostname()
	return h
}

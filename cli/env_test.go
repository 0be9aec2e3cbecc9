package cli

import (
	"encoding/json"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"gopkg.in/yaml.v3"

	"github.com/meshready/meshready/config"
	"github.com/meshready/meshready/engine"
	"github.com/meshready/meshready/envs"
	"github.com/meshready/meshready/toolchain"
)

// envBase is a local base stack on its own bridge and subnet, its
// benchmarks not gating (as every end-to-end test's: the gate has tests of
// its own, and two envs booting at once on a 2-core VM measure real steal,
// 2–5 % in two CI runs, which the gate rightly refuses); its kubeconfig
// file setting must not reach the envs (each writes its own into --out).
const envBase = `config:
  meshready:region: ci
  meshready:provider: local
  meshready:local:
    bridge: mr-env0
    subnet: 10.213.252.0/24
  meshready:nodes:
    controlPlanes: 1
    workers: 2
  meshready:kubernetes:
    kubeconfigFile: kc/shared
  meshready:benchmarks:
    gate: false
    diskRuntime: 5s
    stealIdle: 5s
    stealLoaded: 5s
`

func TestEnvBadInputCreatesNothing(t *testing.T) {
	dir := newProject(t, map[string]string{"ci": envBase})
	env := isolatePulumi(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--name", "PR_1", "--from", "ci"}, "lowercase"},
		{[]string{"--name", "ci", "--from", "ci"}, "region stack"},
		{[]string{"--name", "pr-1", "--from", "nope"}, "no file"},
		{[]string{"--name", "pr-1", "--from", "ci", "--ttl", "forever"}, "--ttl"},
		{[]string{"--name", "pr-1", "--from", "ci", "--set", "nodes.workers=-1"}, "nodes.workers"},
		{[]string{"--name", "pr-1", "--from", "ci", "--set", "nodes=3"}, "nodes"},
		{[]string{"--name", "pr-1", "--from", "ci", "--out", filepath.Join(dir, "stacks", "Pulumi.ci.yaml", "out")}, "--out"},
	} {
		r := runCLI(t, env, append([]string{"--project-dir", dir, "env", "create"}, c.args...)...)
		if r.code != ExitBadInput || !strings.Contains(r.stderr, c.want) {
			t.Errorf("env create %v: exit %d, stderr %q; want exit 2 naming %q", c.args, r.code, r.stderr, c.want)
		}
	}
	if m, _ := filepath.Glob(filepath.Join(dir, ".meshready", "envs", "Pulumi.pr-1*")); len(m) > 0 {
		t.Errorf("bad input left a stack file: %v", m)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, ".meshready", "state", ".pulumi", "stacks", "*", "*")); len(m) > 0 {
		t.Errorf("bad input made stacks: %v", m)
	}
	// Destroying what does not exist succeeds; a region stack is refused by name.
	if r := runCLI(t, env, "--project-dir", dir, "env", "destroy", "--name", "pr-9"); r.code != ExitOK {
		t.Errorf("destroy of a missing env: exit %d %s", r.code, r.stderr)
	}
	if r := runCLI(t, env, "--project-dir", dir, "env", "destroy", "--name", "ci"); r.code != ExitBadInput {
		t.Errorf("env destroy of a region stack: exit %d", r.code)
	}
}

// TestEnvLifecycle is the CI story on the local stack: two envs created at
// once (one with benchmarks, one killed half-way and created again, while a
// second create of the same name is refused as locked), listed, expired, and
// collected by gc, leaving no machine, bridge, state or file behind.
func TestEnvLifecycle(t *testing.T) {
	if testing.Short() {
		t.Skip("boots systemd-nspawn machines")
	}
	clusterSlot(t, 3) // two clusters at a time, the longest first (see main_test.go)
	dir := newProject(t, map[string]string{"ci": envBase})
	t.Cleanup(func() { // whatever happens, leave nothing running
		for _, n := range []string{"pr-1", "pr-2"} {
			runCLI(t, nil, "--project-dir", dir, "env", "destroy", "--name", n)
		}
	})
	out1, out2 := filepath.Join(t.TempDir(), "pr-1"), filepath.Join(t.TempDir(), "pr-2")
	one := []string{"--set", "nodes.workers=0"}

	a := startCLI(t, nil, dir, append([]string{"env", "create", "--name", "pr-1", "--from", "ci", "--ttl", "1m", "--bench", "--out", out1, "--json"}, one...)...)
	b := startCLI(t, nil, dir, append([]string{"env", "create", "--name", "pr-2", "--from", "ci", "--ttl", "1m", "--out", out2}, one...)...)
	b.waitUntil(t, "its cluster being created", 10*time.Minute, func() bool {
		return strings.Contains(b.out.String(), "meshready:bootstrap:Cluster kubernetes creating")
	})
	// The same name again while its create runs: refused at once, as locked.
	if r := runCLI(t, nil, "--project-dir", dir, "env", "create", "--name", "pr-2", "--from", "ci", "--ttl", "1m"); r.code != ExitFailed || !strings.Contains(r.stderr, "locked") {
		t.Errorf("a second create of pr-2: exit %d, stderr %q; want exit 1, locked", r.code, r.stderr)
	}
	b.kill(t)
	r := runCLI(t, nil, append([]string{"--project-dir", dir, "env", "create", "--name", "pr-2", "--from", "ci", "--ttl", "1m", "--out", out2}, one...)...)
	if r.code != ExitOK {
		t.Fatalf("create pr-2 after a killed create: exit %d\n%s", r.code, tailLines(r.stderr, 40))
	}
	if code := a.wait(t, 20*time.Minute); code != 0 {
		t.Fatalf("create pr-1: exit %d\n%s", code, tailLines(a.out.String(), 40))
	}
	var res struct {
		Name, Base, Status, Kubeconfig, Outputs, Report string
	}
	must(t, json.Unmarshal([]byte(lastLine(a.stdout.String())), &res))
	if res.Name != "pr-1" || res.Base != "ci" || res.Status != envs.StatusReady || res.Kubeconfig != filepath.Join(out1, "kubeconfig") {
		t.Errorf("create pr-1 said %+v", res)
	}
	cache, err := toolchain.DefaultDir(os.Getenv)
	must(t, err)
	kubectl := filepath.Join(cache, "bundle", "v1.34.4", "bin", "kubectl")
	for _, out := range []string{out1, out2} {
		kc := filepath.Join(out, "kubeconfig")
		if fi, err := os.Stat(kc); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v", kc, fi, err)
		}
		if o, err := exec.Command(kubectl, "--kubeconfig", kc, "get", "nodes", "--no-headers").CombinedOutput(); err != nil || strings.Count(string(o), " Ready ") != 1 {
			t.Errorf("kubectl get nodes (%s): %v\n%s", out, err, o)
		}
		var outs map[string]any
		b, err := os.ReadFile(filepath.Join(out, "outputs.json"))
		if err != nil || json.Unmarshal(b, &outs) != nil || outs["kubeconfig"] != "[secret]" || outs["region"] != "ci" {
			t.Errorf("outputs.json of %s: %v %.300s", out, err, b)
		}
	}
	if _, err := os.Stat(filepath.Join(out1, "report", "report.json")); err != nil {
		t.Errorf("pr-1 was created with --bench and has no report: %v", err)
	}
	if _, err := os.Stat(filepath.Join(out2, "report")); err == nil {
		t.Errorf("pr-2 was created without --bench and has a report")
	}
	if _, err := os.Stat(filepath.Join(dir, "kc", "shared")); err == nil {
		t.Errorf("an env wrote the base stack's kubeconfig file")
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "stacks", "Pulumi.pr-*")); len(m) > 0 {
		t.Errorf("envs wrote into stacks/: %v", m)
	}

	r = runCLI(t, nil, "--project-dir", dir, "env", "list", "--json")
	var listed []envs.Env
	must(t, json.Unmarshal([]byte(r.stdout), &listed))
	status := map[string]string{}
	for _, e := range listed {
		status[e.Name] = e.Status
		if e.Base != "ci" || e.Expires.Sub(e.Created) != time.Minute {
			t.Errorf("listed %+v", e)
		}
	}
	if len(listed) != 2 || (status["pr-1"] != envs.StatusReady && status["pr-1"] != envs.StatusExpired) ||
		(status["pr-2"] != envs.StatusReady && status["pr-2"] != envs.StatusExpired) {
		t.Errorf("env list: %s", r.stdout)
	}

	// After the TTL, gc takes both and leaves nothing.
	for _, e := range listed {
		if d := time.Until(e.Expires); d > 0 {
			time.Sleep(d + time.Second)
		}
	}
	r = runCLI(t, nil, "--project-dir", dir, "env", "gc", "--json")
	var gc envs.GCResult
	must(t, json.Unmarshal([]byte(r.stdout), &gc))
	if r.code != ExitOK || len(gc.Destroyed) != 2 || len(gc.Failed) != 0 {
		t.Fatalf("env gc: exit %d %s\n%s", r.code, r.stdout, tailLines(r.stderr, 30))
	}
	if r := runCLI(t, nil, "--project-dir", dir, "env", "list", "--json"); strings.TrimSpace(r.stdout) != "[]" {
		t.Errorf("env list after gc: %s", r.stdout)
	}
	if out, err := exec.Command("ip", "link", "show", "mr-env0").CombinedOutput(); err == nil {
		t.Errorf("bridge left behind: %s", out)
	}
	if m, _ := filepath.Glob(filepath.Join(cache, "local", "machines", "mr-pr-[12]-*")); len(m) > 0 {
		t.Errorf("machines left behind: %v", m)
	}
	var left []string
	filepath.Walk(filepath.Join(dir, ".meshready", "state"), func(p string, _ os.FileInfo, _ error) error {
		if strings.Contains(filepath.Base(p), "pr-") {
			left = append(left, p)
		}
		return nil
	})
	if m, _ := filepath.Glob(filepath.Join(dir, ".meshready", "envs", "Pulumi.pr-*")); len(m) > 0 || len(left) > 0 {
		t.Errorf("state or stack files left behind: %v %v", left, m)
	}
}

// TestEnvReencryptsTheBaseSecrets: a secret of the base stack reaches the env
// decrypted by the base's key and sealed again by the env's own; the env's
// file never holds the plaintext or the base's ciphertext.
func TestEnvReencryptsTheBaseSecrets(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a systemd-nspawn machine")
	}
	sideSlot(t) // beside the cluster tests (see main_test.go)
	const base = `config:
  meshready:region: sec
  meshready:provider: local
  meshready:local:
    bridge: mr-sec0
    subnet: 10.213.254.0/24
  meshready:nodes:
    controlPlanes: 1
    workers: 0
  meshready:kubernetes:
    enabled: false
`
	dir := newProject(t, map[string]string{"sec": base})
	env := isolatePulumi(t)
	t.Cleanup(func() { runCLI(t, env, "--project-dir", dir, "env", "destroy", "--name", "sec-env") })
	const secret = "tok-plain-7c1e"
	cache, err := toolchain.DefaultDir(os.Getenv)
	must(t, err)
	p, err := engine.Open(engine.Options{ProjectDir: dir, Cache: toolchain.Cache{Dir: cache, ProjectDir: dir, Log: slog.New(slog.DiscardHandler)},
		Getenv: getenvWith(env), PluginBinary: os.Getenv("MESHREADY_PLUGIN_BINARY")})
	must(t, err)
	st, err := p.Upsert(t.Context(), "sec", func(config.Raw) pulumi.RunFunc { return func(*pulumi.Context) error { return nil } })
	must(t, err)
	must(t, st.SetConfig(t.Context(), "hetzner:token", auto.ConfigValue{Value: secret, Secret: true}))
	baseFile, err := os.ReadFile(filepath.Join(dir, "stacks", "Pulumi.sec.yaml"))
	must(t, err)
	var b struct {
		Config map[string]any `yaml:"config"`
	}
	must(t, yaml.Unmarshal(baseFile, &b))
	baseCipher, _ := b.Config["hetzner:token"].(map[string]any)["secure"].(string)
	if baseCipher == "" {
		t.Fatalf("the base holds no secure value:\n%s", baseFile)
	}

	r := runCLI(t, env, "--project-dir", dir, "env", "create", "--name", "sec-env", "--from", "sec", "--ttl", "10m", "--out", t.TempDir())
	if r.code != ExitOK {
		t.Fatalf("env create: exit %d\n%s", r.code, tailLines(r.stderr, 30))
	}
	envFile, err := os.ReadFile(filepath.Join(dir, ".meshready", "envs", "Pulumi.sec-env.yaml"))
	must(t, err)
	if strings.Contains(string(envFile), secret) || strings.Contains(string(envFile), baseCipher) || !strings.Contains(string(envFile), "secure:") {
		t.Errorf("the env's file holds the plaintext or the base's ciphertext, or no secure value:\n%s", envFile)
	}
	ep, err := p.EnvWorkspace()
	must(t, err)
	est, err := ep.Select(t.Context(), "sec-env")
	must(t, err)
	v, err := est.GetConfig(t.Context(), "hetzner:token")
	if err != nil || v.Value != secret || !v.Secret {
		t.Errorf("the env's secret reads %+v, %v", v, err)
	}
}

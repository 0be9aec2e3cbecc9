package engine

import (
	"os"
	"path/filepath"
	"testing"
)

func project(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	yaml := "name: meshready\nruntime: go\nstackConfigDir: stacks\nbackend:\n  url: file://.meshready/state\n"
	if err := os.WriteFile(filepath.Join(dir, "Pulumi.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func env(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }

func TestOpenMakesAPassphraseOnlyWhenNoneIsGiven(t *testing.T) {
	dir := project(t)
	p, err := Open(Options{ProjectDir: dir, Getenv: env(nil)})
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(dir, ".meshready", "passphrase")
	fi, err := os.Stat(f)
	if err != nil || fi.Mode().Perm() != 0o600 || fi.Size() < 32 {
		t.Fatalf("passphrase file: %v %v", fi, err)
	}
	if p.env["PULUMI_CONFIG_PASSPHRASE_FILE"] != f {
		t.Errorf("CLI env lacks the passphrase file: %v", p.env)
	}
	first, _ := os.ReadFile(f)
	if _, err := Open(Options{ProjectDir: dir, Getenv: env(nil)}); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(f); string(again) != string(first) {
		t.Errorf("a second Open replaced the passphrase: the state's secrets would be lost")
	}
	if _, err := os.Stat(filepath.Join(dir, ".meshready", "state")); err != nil {
		t.Errorf("file backend dir not made: %v", err)
	}
	if got, want := p.StackFile("hel1"), filepath.Join(dir, "stacks", "Pulumi.hel1.yaml"); got != want {
		t.Errorf("StackFile = %s, want %s", got, want)
	}

	other := project(t)
	p, err = Open(Options{ProjectDir: other, Getenv: env(map[string]string{
		"PULUMI_CONFIG_PASSPHRASE": "given", "PULUMI_BACKEND_URL": "s3://bucket/prefix",
	})})
	if err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{"passphrase", "state"} {
		if _, err := os.Stat(filepath.Join(other, ".meshready", sub)); err == nil {
			t.Errorf("with a passphrase and a backend URL given, .meshready/%s should not be made", sub)
		}
	}
	if target, err := os.Readlink(filepath.Join(other, PluginDir, "pulumi-resource-meshready")); err != nil || target == "" {
		t.Errorf("plugin link: %q %v", target, err)
	}
	if _, ok := p.env["PULUMI_CONFIG_PASSPHRASE_FILE"]; ok {
		t.Errorf("overrode the user's passphrase")
	}
}

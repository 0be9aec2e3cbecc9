package cli

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/meshready/meshready/toolchain"
)

// fakeVault answers Vault's transit API (PUT /v1/transit/encrypt/<key>,
// /v1/transit/decrypt/<key>, token in X-Vault-Token) the way Vault does, with
// a toy cipher: enough for Pulumi's hashivault:// secrets provider.
func fakeVault(t *testing.T, token string, encrypts *atomic.Int32) *httptest.Server {
	t.Helper()
	flip := func(b []byte) []byte {
		out := make([]byte, len(b))
		for i, c := range b {
			out[i] = c ^ 0x5a
		}
		return out
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Vault-Token") != token {
			http.Error(w, `{"errors":["permission denied"]}`, http.StatusForbidden)
			return
		}
		var in map[string]string
		json.NewDecoder(r.Body).Decode(&in)
		data := map[string]string{}
		switch {
		case strings.HasPrefix(r.URL.Path, "/v1/transit/encrypt/meshready"):
			plain, err := base64.StdEncoding.DecodeString(in["plaintext"])
			if err != nil {
				http.Error(w, `{"errors":["bad plaintext"]}`, http.StatusBadRequest)
				return
			}
			encrypts.Add(1)
			data["ciphertext"] = "vault:v1:" + base64.StdEncoding.EncodeToString(flip(plain))
		case strings.HasPrefix(r.URL.Path, "/v1/transit/decrypt/meshready"):
			raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(in["ciphertext"], "vault:v1:"))
			if err != nil {
				http.Error(w, `{"errors":["bad ciphertext"]}`, http.StatusBadRequest)
				return
			}
			data["plaintext"] = base64.StdEncoding.EncodeToString(flip(raw))
		default:
			http.NotFound(w, r)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"data": data})
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestBackendURLAndKMSSecretsPassThrough: for teams, state lives where
// PULUMI_BACKEND_URL says (not in .meshready/state) and secrets are sealed by a
// KMS given by URL (--secrets-provider hashivault://..., here against a Vault
// that speaks the transit API on loopback), not by the generated passphrase.
func TestBackendURLAndKMSSecretsPassThrough(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the Pulumi CLI")
	}
	sideSlot(t) // beside the cluster tests (see main_test.go)
	const stack = `config:
  meshready:region: team
  meshready:provider: local
  meshready:local:
    bridge: mr-kms0
    subnet: 10.213.253.0/24
  meshready:benchmarks:
    enabled: false
    gate: false
  meshready:kubernetes:
    enabled: false
`
	dir := newProject(t, map[string]string{"team": stack})
	backend := t.TempDir()
	var encrypts atomic.Int32
	vault := fakeVault(t, "s.test-token", &encrypts)
	env := isolatePulumi(t)
	env["PULUMI_BACKEND_URL"] = "file://" + backend
	env["VAULT_ADDR"] = vault.URL
	env["VAULT_TOKEN"] = "s.test-token"

	r := runCLI(t, env, "--project-dir", dir, "--secrets-provider", "hashivault://meshready", "preview", "--stack", "team")
	if r.code != ExitOK {
		t.Fatalf("preview: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(backend, ".pulumi", "stacks", "meshready", "team.json")); err != nil {
		t.Errorf("the stack is not in PULUMI_BACKEND_URL's backend: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, ".meshready", "state", ".pulumi")); err == nil {
		t.Errorf("the default backend was used besides PULUMI_BACKEND_URL")
	}
	if _, err := os.Stat(filepath.Join(dir, ".meshready", "passphrase")); err == nil {
		t.Errorf("a passphrase was generated although secrets go to a KMS")
	}
	b, err := os.ReadFile(filepath.Join(dir, "stacks", "Pulumi.team.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// The stack's data key, sealed by the KMS: base64 of Vault's ciphertext.
	var file struct {
		SecretsProvider string `yaml:"secretsprovider"`
		EncryptedKey    string `yaml:"encryptedkey"`
	}
	must(t, yaml.Unmarshal(b, &file))
	sealed, _ := base64.StdEncoding.DecodeString(file.EncryptedKey)
	if file.SecretsProvider != "hashivault://meshready" || !strings.HasPrefix(string(sealed), "vault:v1:") {
		t.Errorf("the stack file does not name the KMS and its sealed data key:\n%s", b)
	}
	// A preview plans; it never boots a machine.
	cache, err := toolchain.DefaultDir(os.Getenv)
	must(t, err)
	if m, _ := filepath.Glob(filepath.Join(cache, "local", "machines", "mr-team-*")); len(m) > 0 {
		t.Errorf("preview created machines: %v", m)
	}
	if encrypts.Load() == 0 {
		t.Errorf("the KMS was never asked to encrypt")
	}
}

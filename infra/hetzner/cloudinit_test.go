package hetzner

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meshready/meshready/infra"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func TestRenderUserDataGolden(t *testing.T) {
	got, err := RenderUserData(infra.HostKeyPair{PrivatePEM: testHostPrivate, Public: testHostPublic})
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "user_data.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if got != string(want) {
		t.Errorf("user data differs from %s (go test -update rewrites it):\n%s", golden, got)
	}
}

func TestRenderUserDataAddsTheKeyFileNewline(t *testing.T) {
	got, err := RenderUserData(infra.HostKeyPair{PrivatePEM: strings.TrimSpace(testHostPrivate), Public: testHostPublic})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := RenderUserData(infra.HostKeyPair{PrivatePEM: testHostPrivate, Public: testHostPublic})
	if got != want {
		t.Errorf("a key without its final newline renders differently:\n%s", got)
	}
}

func TestRenderUserDataRejectsBadKeys(t *testing.T) {
	for name, hk := range map[string]infra.HostKeyPair{
		"empty":          {},
		"rsa public":     {PrivatePEM: testHostPrivate, Public: "ssh-rsa AAAA"},
		"pem private":    {PrivatePEM: "-----BEGIN PRIVATE KEY-----\nMC4CAQ\n-----END PRIVATE KEY-----\n", Public: testHostPublic},
		"public as both": {PrivatePEM: testHostPublic, Public: testHostPublic},
	} {
		_, err := RenderUserData(hk)
		if err == nil {
			t.Errorf("%s: accepted", name)
		} else if hk.PrivatePEM != "" && strings.Contains(err.Error(), hk.PrivatePEM) {
			t.Errorf("%s: the error quotes the private key", name)
		}
	}
}

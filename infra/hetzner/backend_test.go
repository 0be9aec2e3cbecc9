package hetzner

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/meshready/meshready/infra"
)

// Test-only keys, made with ssh-keygen for these tests; they guard nothing.
const (
	testHostPrivate = `-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW
QyNTUxOQAAACBtUNlA1fBk5yM/Bv/xkFcGM40lI5nItPzofBd4vtLxRAAAAJi0tj8ttLY/
LQAAAAtzc2gtZWQyNTUxOQAAACBtUNlA1fBk5yM/Bv/xkFcGM40lI5nItPzofBd4vtLxRA
AAAEDWo17881XXb7BUE2vTQNPgTUGlmqd0N5eECDe0Q7V4Km1Q2UDV8GTnIz8G//GQVwYz
jSUjmci0/Oh8F3i+0vFEAAAAE21lc2hyZWFkeS10ZXN0LWhvc3QBAg==
-----END OPENSSH PRIVATE KEY-----
`
	testHostPublic = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG1Q2UDV8GTnIz8G//GQVwYzjSUjmci0/Oh8F3i+0vFE meshready-test-host"
	testUserKey    = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJa7wc6WChDkSORtbZUnXUFxmeNaY1JliGKLR7fHMg8x meshready-test-user"
	testUserKeyMD5 = "ed:ba:96:7b:94:31:c7:c6:aa:1d:94:f5:3b:dc:3c:c7" // ssh-keygen -l -E md5
)

// syncBuffer collects log output from concurrent requests.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// testOptions: 1 ms backoff and polls, a short HTTP timeout, debug logs kept.
func testOptions(f *fakeAPI, logs *syncBuffer) Options {
	return Options{
		Token:        fakeToken,
		Endpoint:     f.endpoint(),
		Log:          slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Backoff:      func(int) time.Duration { return time.Millisecond },
		MaxRetryWait: 5 * time.Millisecond,
		PollInterval: time.Millisecond,
		HTTPTimeout:  500 * time.Millisecond,
		Stack:        "test",
	}
}

func newTestBackend(t *testing.T, f *fakeAPI) (*Backend, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	b, err := New(testOptions(f, logs))
	if err != nil {
		t.Fatal(err)
	}
	return b, logs
}

func testSpec(name, role string) infra.ServerSpec {
	return infra.ServerSpec{
		Name: name, Role: role, Region: "fsn1", ServerType: "cx22", Image: "debian-12",
		SSHPublicKey: testUserKey,
		HostKey:      infra.HostKeyPair{PrivatePEM: testHostPrivate, Public: testHostPublic},
		Labels:       map[string]string{"meshready": "true", "meshready-stack": "test", "team": "infra"},
	}
}

var threeNodes = []struct{ name, role string }{
	{"fsn1-cp-1", "control-plane"}, {"fsn1-worker-1", "worker"}, {"fsn1-worker-2", "worker"},
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// checkOurs asserts that the fake holds exactly the three servers of
// threeNodes, each labelled ours and given the host key through user_data.
func checkOurs(t *testing.T, f *fakeAPI) {
	t.Helper()
	servers := f.serverList()
	if len(servers) != len(threeNodes) {
		t.Fatalf("the fake holds %d servers, want %d: %+v", len(servers), len(threeNodes), servers)
	}
	for i, n := range threeNodes {
		s := servers[i]
		want := map[string]string{"meshready": "true", "meshready-stack": "test", "meshready-name": n.name,
			"meshready-role": n.role, "team": "infra"}
		if s.Name != n.name || !equalLabels(s.Labels, want) {
			t.Errorf("server %d: name %q labels %v, want %q %v", s.ID, s.Name, s.Labels, n.name, want)
		}
		var doc cloudConfig
		if !strings.HasPrefix(s.UserData, "#cloud-config\n") || yaml.Unmarshal([]byte(s.UserData), &doc) != nil {
			t.Fatalf("server %s: user_data is not a cloud-config document", s.Name)
		}
		if doc.SSHKeys.ED25519Private != testHostPrivate || doc.SSHKeys.ED25519Public != testHostPublic ||
			!doc.SSHDeleteKeys || len(doc.SSHGenKeyTypes) != 0 {
			t.Errorf("server %s: user_data does not install the host key as the only one: %+v", s.Name, doc)
		}
		if s.status != "running" {
			t.Errorf("server %s is %s", s.Name, s.status)
		}
	}
}

func equalLabels(a, b map[string]string) bool {
	return len(a) == len(b) && hasLabels(a, b)
}

// Case 1: three servers on a clean fake, at most 5 requests each (the
// first also makes the stack's network, firewall and placement group: 6
// more).
func TestCreateThreeServers(t *testing.T) {
	f := newFakeAPI(t)
	b, _ := newTestBackend(t, f)
	for i, n := range threeNodes {
		before := f.total()
		s, err := b.Create(testCtx(t), testSpec(n.name, n.role))
		if err != nil {
			t.Fatal(err)
		}
		used := f.total() - before
		t.Logf("%s: %d requests until running", n.name, used)
		if limit := 5 + 6*btoi(i == 0); used > limit {
			t.Errorf("%s took %d requests, want at most %d", n.name, used, limit)
		}
		if s.Status != "running" || s.ID == "" || s.PublicIPv4 == "" || s.PrivateIPv4 == "" ||
			s.SSHPort != 22 || s.SSHUser != "root" || s.Virtualization != "kvm (Hetzner Cloud)" || s.Labels["meshready-name"] != n.name {
			t.Errorf("returned %+v", s)
		}
	}
	checkOurs(t, f)
	if got := f.count("POST /servers"); got != 3 {
		t.Errorf("%d POST /servers, want 3", got)
	}
	if got := f.count("POST /ssh_keys"); got != 1 {
		t.Errorf("%d POST /ssh_keys, want 1 (the key is uploaded once)", got)
	}
	t.Logf("requests: %v", f.countsCopy())
}

// Case 5: Get after Delete is ErrNotFound; deleting twice is fine, and a
// DELETE that meets a lock is repeated.
func TestDeleteThenGet(t *testing.T) {
	f := newFakeAPI(t)
	b, _ := newTestBackend(t, f)
	ctx := testCtx(t)
	s, err := b.Create(ctx, testSpec("fsn1-cp-1", "control-plane"))
	if err != nil {
		t.Fatal(err)
	}
	f.inject("DELETE /servers/{id}", fail(409, "conflict"), fail(423, "locked"), fail(503, "service_error"))
	if err := b.Delete(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	if got := f.count("DELETE /servers/{id}"); got != 4 {
		t.Errorf("%d DELETE requests, want 4 (conflict, locked and 503 repeated)", got)
	}
	if _, err := b.Get(ctx, s.ID); !errors.Is(err, infra.ErrNotFound) {
		t.Errorf("Get after Delete: %v, want ErrNotFound", err)
	}
	if err := b.Delete(ctx, s.ID); err != nil {
		t.Errorf("second Delete: %v", err)
	}
	if _, err := b.Get(ctx, "424242"); !errors.Is(err, infra.ErrNotFound) {
		t.Errorf("Get of an unknown id: %v, want ErrNotFound", err)
	}
}

// Case 6: DeleteAll removes exactly our stack's labelled servers and keys,
// across pages, even when the API ignores the label selector.
func TestDeleteAllOnlyOurs(t *testing.T) {
	for _, ignoreSel := range []bool{false, true} {
		t.Run(map[bool]string{false: "selector", true: "selector ignored"}[ignoreSel], func(t *testing.T) {
			f := newFakeAPI(t)
			f.maxPerPage = 2
			b, _ := newTestBackend(t, f)
			ctx := testCtx(t)
			if _, err := b.Create(ctx, testSpec("fsn1-cp-1", "control-plane")); err != nil {
				t.Fatal(err)
			}
			for _, n := range []string{"fsn1-worker-1", "fsn1-worker-2", "fsn1-worker-3", "fsn1-worker-4"} {
				f.addServer(n, map[string]string{"meshready": "true", "meshready-stack": "test", "meshready-name": n})
			}
			f.addServer("hand-made", nil)
			f.addServer("other-stack", map[string]string{"meshready": "true", "meshready-stack": "prod"})
			f.addServer("half-labelled", map[string]string{"meshready-stack": "test"})
			f.mu.Lock()
			f.keys[1] = &fakeKey{ID: 1, Name: "someone", Fingerprint: "00:11", Labels: map[string]string{}}
			f.ignoreSel = ignoreSel
			f.mu.Unlock()

			listed, err := b.List(ctx, map[string]string{"meshready": "true", "meshready-stack": "test"})
			if err != nil || len(listed) != 5 {
				t.Fatalf("List across pages: %d servers, %v; want 5", len(listed), err)
			}
			if err := b.DeleteAll(ctx); err != nil {
				t.Fatal(err)
			}
			var left []string
			for _, s := range f.serverList() {
				left = append(left, s.Name)
			}
			if want := []string{"hand-made", "other-stack", "half-labelled"}; !slices.Equal(left, want) {
				t.Errorf("left %v, want %v", left, want)
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			if len(f.keys) != 1 || f.keys[1] == nil {
				t.Errorf("ssh keys left: %v, want only the unlabelled one", f.keys)
			}
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

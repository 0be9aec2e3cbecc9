package hetzner

import (
	"strconv"
	"strings"
	"testing"
)

// TestAnotherIdentityIsNeitherAdoptedNorDeleted: two checkouts (or
// backends) use the same stack name. The other one's server, with our
// stack's labels but its own identity, is not adopted by Create and not
// deleted by Delete, even given its id; our own servers are, and with the
// last of them the SSH key this stack uploaded is deleted too.
func TestAnotherIdentityIsNeitherAdoptedNorDeleted(t *testing.T) {
	f := newFakeAPI(t)
	logs := &syncBuffer{}
	o := testOptions(f, logs)
	o.Identity = "ours0123456789abcdef"
	b, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	theirs := f.addServer("fsn1-cp-1", map[string]string{"meshready": "true", "meshready-stack": "test",
		"meshready-name": "fsn1-cp-1", "meshready-role": "control-plane", labelIdentity: "theirs456789abcdef01"})
	ctx := testCtx(t)
	if _, err := b.Create(ctx, testSpec("fsn1-cp-1", "control-plane")); err == nil || !strings.Contains(err.Error(), "does not own") {
		t.Fatalf("Create with another identity's server holding the name: %v", err)
	}
	err = b.Delete(ctx, itoa(theirs))
	if err == nil || !strings.Contains(err.Error(), "another identity") {
		t.Errorf("Delete of the other identity's server: %v", err)
	}
	if servers := f.serverList(); len(servers) != 1 || servers[0].ID != theirs {
		t.Fatalf("the other identity's server was touched: %+v", servers)
	}

	// Ours: made with our identity, deleted, and the key goes with the last one.
	s, err := b.Create(ctx, testSpec("fsn1-worker-1", "worker"))
	if err != nil {
		t.Fatal(err)
	}
	if l := f.serverList()[1].Labels; l[labelIdentity] != o.Identity {
		t.Errorf("our server's labels %v lack our identity", l)
	}
	if n := len(f.keyList()); n != 1 {
		t.Fatalf("%d keys after create, want 1", n)
	}
	if err := b.Delete(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	if n := len(f.keyList()); n != 0 {
		t.Errorf("the stack's uploaded SSH key outlived its last server: %d keys", n)
	}
}

// keyList is the fake's SSH keys.
func (f *fakeAPI) keyList() []fakeKey {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fakeKey
	for _, k := range f.keys {
		out = append(out, *k)
	}
	return out
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

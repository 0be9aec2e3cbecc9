package hetzner

import (
	"fmt"
	"slices"
	"testing"
)

// Inventory sees everything meshready made in the project, of every stack
// and backend, with the backend label only on what was made with an
// owner; DeleteOwned removes exactly what it is given (servers first, the
// network last), through 429s, 5xx and a lost response.
func TestInventoryAndDeleteOwned(t *testing.T) {
	f := newFakeAPI(t)
	make := func(stack, owner string, nodes ...string) {
		t.Helper()
		o := testOptions(f, &syncBuffer{})
		o.Stack, o.Owner = stack, owner
		b, err := New(o)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range nodes {
			spec := testSpec(n, "worker")
			spec.Labels = map[string]string{"meshready": "true", "meshready-stack": stack}
			if _, err := b.Create(testCtx(t), spec); err != nil {
				t.Fatal(err)
			}
		}
	}
	make("pr-7", "aaaa000011112222", "pr-7-worker-1", "pr-7-worker-2")
	make("hel1", "bbbb000011112222", "hel1-worker-1")
	make("old", "", "old-worker-1")

	all, err := Inventory(testCtx(t), testOptions(f, &syncBuffer{}))
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	var pr7 []Owned
	for _, o := range all {
		count[fmt.Sprintf("%s %s %s", o.Stack, o.Owner, o.Kind)]++
		if o.Stack == "pr-7" {
			pr7 = append(pr7, o)
		}
	}
	want := map[string]int{}
	for _, s := range []struct{ stack, owner string }{{"pr-7", "aaaa000011112222"}, {"hel1", "bbbb000011112222"}, {"old", ""}} {
		for _, k := range []string{"placement_group", "firewall", "network"} {
			want[s.stack+" "+s.owner+" "+k] = 1
		}
	}
	want["pr-7 aaaa000011112222 server"], want["hel1 bbbb000011112222 server"], want["old  server"] = 2, 1, 1
	// One public key, one SSH key in a project (Hetzner refuses a second
	// upload of it): the first stack's, which the others found and used.
	want["pr-7 aaaa000011112222 ssh_key"] = 1
	if fmt.Sprint(count) != fmt.Sprint(want) {
		t.Errorf("inventory:\n got %v\nwant %v", count, want)
	}

	f.inject("DELETE /firewalls/{id}", rateLimited(), fail(503, "unavailable"))
	f.inject("DELETE /networks/{id}", lost())
	if err := DeleteOwned(testCtx(t), testOptions(f, &syncBuffer{}), pr7); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	fw, nw := f.counts["DELETE /firewalls/{id}"], f.counts["DELETE /networks/{id}"]
	f.mu.Unlock()
	if fw != 3 || nw != 2 {
		t.Errorf("deletes of the firewall %d (want 429, 503, done), of the network %d (want lost, then not found or done)", fw, nw)
	}
	left, err := Inventory(testCtx(t), testOptions(f, &syncBuffer{}))
	if err != nil {
		t.Fatal(err)
	}
	if slices.ContainsFunc(left, func(o Owned) bool { return o.Stack == "pr-7" }) || len(left) != len(all)-len(pr7) {
		t.Errorf("after deleting pr-7's %d: %d of %d left: %+v", len(pr7), len(left), len(all), left)
	}
}

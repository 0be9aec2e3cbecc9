package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meshready/meshready/internal/golden"
	"github.com/meshready/meshready/remote"
)

func TestCheckRemoval(t *testing.T) {
	m := func(name string, healthy bool) EtcdMember {
		return EtcdMember{ID: uint64(len(name)), Name: name, Healthy: healthy}
	}
	for _, c := range []struct {
		name    string
		members []EtcdMember
		leaving string
		err     string
	}{
		{"three healthy, one goes", []EtcdMember{m("cp-1", true), m("cp-2", true), m("cp-3", true)}, "cp-3", ""},
		{"two healthy, one goes", []EtcdMember{m("cp-1", true), m("cp-2", true)}, "cp-2", ""},
		{"a dead member goes", []EtcdMember{m("cp-1", true), m("cp-2", true), m("cp-3", false)}, "cp-3", ""},
		{"not a member", []EtcdMember{m("cp-1", true)}, "cp-9", ""},
		{"the last member", []EtcdMember{m("cp-1", true)}, "cp-1", "last etcd member"},
		{"quorum lost", []EtcdMember{m("cp-1", true), m("cp-2", false), m("cp-3", true)}, "cp-3", "1 healthy of 2 members, below the quorum of 2"},
		{"five, two dead", []EtcdMember{m("cp-1", true), m("cp-2", false), m("cp-3", false), m("cp-4", true), m("cp-5", true)}, "cp-5", "2 healthy of 4 members, below the quorum of 3"},
	} {
		got, err := CheckRemoval(c.members, c.leaving)
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%s: err %v, want %q", c.name, err, c.err)
		case c.err == "" && c.leaving != "cp-9" && (got == nil || got.Name != c.leaving):
			t.Errorf("%s: member %+v", c.name, got)
		}
	}
}

func TestParseEvictable(t *testing.T) {
	b, err := os.ReadFile("testdata/pods-on-node.json")
	must(t, err)
	got, err := ParseEvictable(b)
	must(t, err)
	golden.Check(t, "testdata/pods-on-node.golden", []byte(strings.Join(got, "\n")+"\n"))
	if _, err := ParseEvictable([]byte("<html>")); err == nil {
		t.Error("not JSON was read")
	}
}

func TestPodsOfGoneNodes(t *testing.T) {
	b, err := os.ReadFile("testdata/pods-on-node.json")
	must(t, err)
	got, err := PodsOfGoneNodes(b, []string{"s-worker-1"})
	must(t, err)
	if len(got) != 1 || got[0] != (GonePod{"kube-system", "kube-apiserver-s-cp-1", "s-cp-1"}) {
		t.Errorf("got %+v", got)
	}
	if got, _ := PodsOfGoneNodes(b, []string{"s-worker-1", "s-cp-1"}); len(got) != 0 {
		t.Errorf("pods of existing nodes: %+v", got)
	}
	if _, err := PodsOfGoneNodes([]byte("<html>"), nil); err == nil {
		t.Error("not JSON was read")
	}
}

// FuzzParseEvictable: whatever kubectl prints, reading it never panics.
func FuzzParseEvictable(f *testing.F) {
	b, err := os.ReadFile("testdata/pods-on-node.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte(`{"items":[{"metadata":{"ownerReferences":null}}]}`))
	f.Fuzz(func(t *testing.T, b []byte) { ParseEvictable(b) })
}

// fakeEtcd is a cluster's etcd in memory.
type fakeEtcd struct {
	mu      sync.Mutex
	members []EtcdMember
	log     *[]string
	// moveErr, when set, is what a leadership transfer fails with.
	moveErr error
}

func (e *fakeEtcd) Members(context.Context) ([]EtcdMember, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]EtcdMember(nil), e.members...), nil
}

func (e *fakeEtcd) Remove(_ context.Context, id uint64) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	*e.log = append(*e.log, "etcd: member remove")
	for i, m := range e.members {
		if m.ID == id {
			e.members = append(e.members[:i], e.members[i+1:]...)
		}
	}
	return nil
}
func (e *fakeEtcd) MoveLeader(_ context.Context, leader EtcdMember, to uint64) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	*e.log = append(*e.log, fmt.Sprintf("etcd: move-leader from %s to %d", leader.Name, to))
	if e.moveErr != nil {
		return e.moveErr
	}
	for i := range e.members {
		e.members[i].Leader = e.members[i].ID == to
	}
	return nil
}

func (e *fakeEtcd) Snapshot(context.Context, io.Writer) (int64, error) { return 0, nil }
func (e *fakeEtcd) Close() error                                       { return nil }

// TestLeaveOrder: a control plane leaves drained first, its etcd
// leadership handed to the first control plane, then out of etcd,
// then its Node deleted, then reset; nothing happens when etcd would lose
// its quorum.
func TestLeaveOrder(t *testing.T) {
	nodes := `{"items":[` +
		`{"metadata":{"name":"s-cp-1"},"status":{"conditions":[{"type":"Ready","status":"True"}]}},` +
		`{"metadata":{"name":"s-cp-2"},"status":{"conditions":[{"type":"Ready","status":"True"}]}},` +
		`{"metadata":{"name":"s-cp-3"},"status":{"conditions":[{"type":"Ready","status":"True"}]}}]}`
	var mu sync.Mutex
	var log []string
	mk := func(name string) Node {
		return Node{Name: name, Role: "control-plane", Runner: fakeRunner{name, &mu, &log, nil, nodes, nil}}
	}
	cp, leaving := mk("s-cp-1"), mk("s-cp-3")
	etcd := &fakeEtcd{members: []EtcdMember{
		{ID: 1, Name: "s-cp-1", Healthy: true},
		{ID: 2, Name: "s-cp-2", Healthy: false},
		{ID: 3, Name: "s-cp-3", Healthy: true, Leader: true},
	}, log: &log}
	quiet := slog.New(slog.DiscardHandler)
	err := Leave(t.Context(), quiet, cp, etcd, Leaving{Node: leaving, DrainTimeout: time.Minute})
	if err == nil || !strings.Contains(err.Error(), "below the quorum") || len(log) != 0 {
		t.Fatalf("a removal that loses quorum: %v, ran %v", err, log)
	}
	etcd.members[1].Healthy = true
	must(t, Leave(t.Context(), quiet, cp, etcd, Leaving{Node: leaving, DrainTimeout: time.Minute}))
	want := []string{
		"s-cp-1: kubectl --kubeconfig /etc/kubernetes/admin.conf get nodes -o json",
		"s-cp-1: kubectl --kubeconfig /etc/kubernetes/admin.conf cordon s-cp-3",
		"s-cp-1: kubectl --kubeconfig /etc/kubernetes/admin.conf drain s-cp-3 --ignore-daemonsets --delete-emptydir-data --timeout=1m0s",
		"etcd: move-leader from s-cp-3 to 1",
		"etcd: member remove",
		"s-cp-1: kubectl --kubeconfig /etc/kubernetes/admin.conf delete node s-cp-3 --ignore-not-found",
		"s-cp-1: kubectl --kubeconfig /etc/kubernetes/admin.conf get nodes -o json",
		"s-cp-1: kubectl --kubeconfig /etc/kubernetes/admin.conf get pods -A -o json",
		"s-cp-3: " + strings.SplitN(resetScript, "\n", 2)[0],
	}
	if strings.Join(log, "\n") != strings.Join(want, "\n") {
		t.Errorf("ran:\n%s\nwant:\n%s", strings.Join(log, "\n"), strings.Join(want, "\n"))
	}
	if len(etcd.members) != 2 || !etcd.members[0].Leader {
		t.Errorf("members left %v: want s-cp-1 leading", etcd.members)
	}

	// A transfer that fails does not stop the removal: etcd elects a leader itself.
	log = nil
	etcd.members = append(etcd.members, EtcdMember{ID: 4, Name: "s-cp-4", Healthy: true, Leader: true})
	etcd.members[0].Leader = false
	etcd.moveErr = errors.New("etcdserver: request timed out, leader transfer took too long")
	must(t, Leave(t.Context(), quiet, cp, etcd, Leaving{Node: Node{Name: "s-cp-4", Role: "control-plane"}, DrainTimeout: time.Minute}))
	if s := strings.Join(log, "\n"); !strings.Contains(s, "move-leader from s-cp-4 to 1\netcd: member remove") {
		t.Errorf("a leave whose transfer failed ran:\n%s", s)
	}
	etcd.moveErr = nil

	// A dead node (no session): no drain, nothing run on it; its member and Node go.
	log = nil
	dead := Node{Name: "s-cp-2", Role: "control-plane"}
	must(t, Leave(t.Context(), quiet, cp, etcd, Leaving{Node: dead, DrainTimeout: time.Minute}))
	if s := strings.Join(log, "\n"); strings.Contains(s, "drain") || strings.Contains(s, "move-leader") || !strings.Contains(s, "member remove") || !strings.Contains(s, "delete node s-cp-2") {
		t.Errorf("a dead node's leave ran:\n%s", s)
	}
	if err := Leave(t.Context(), quiet, cp, etcd, Leaving{Node: cp}); err == nil || !strings.Contains(err.Error(), "cannot leave") {
		t.Errorf("the first control plane left: %v", err)
	}
}

var _ remote.Runner = fakeRunner{}

// drainFails is a control plane whose kubectl drain fails with pods left.
type drainFails struct {
	fakeRunner
	pods string
}

func (d drainFails) Run(ctx context.Context, cmd string, opts ...remote.RunOption) (remote.Result, error) {
	res, _ := d.fakeRunner.Run(ctx, cmd, opts...)
	switch {
	case strings.Contains(cmd, "'drain'"):
		return remote.Result{}, &remote.ExitError{Host: "s-cp-1", Cmd: cmd, Code: 1, Stderr: "error when evicting pods"}
	case strings.Contains(cmd, "spec.nodeName="):
		return remote.Result{Stdout: []byte(d.pods)}, nil
	}
	return res, nil
}

// TestDrainThatCannotFinish: the error names the pods that stayed, the
// node is uncordoned, and nothing after the drain runs.
func TestDrainThatCannotFinish(t *testing.T) {
	nodes := `{"items":[{"metadata":{"name":"s-worker-1"},"status":{"conditions":[{"type":"Ready","status":"True"}]}}]}`
	pods, err := os.ReadFile("testdata/pods-on-node.json")
	must(t, err)
	var mu sync.Mutex
	var log []string
	cp := Node{Name: "s-cp-1", Role: "control-plane", Runner: drainFails{fakeRunner{"s-cp-1", &mu, &log, nil, nodes, nil}, string(pods)}}
	w := Node{Name: "s-worker-1", Role: "worker", Runner: fakeRunner{"s-worker-1", &mu, &log, nil, nodes, nil}}
	err = Leave(t.Context(), slog.New(slog.DiscardHandler), cp, nil, Leaving{Node: w, DrainTimeout: time.Minute})
	if err == nil || !strings.Contains(err.Error(), "shop/web-7d9c-abcde, shop/db-0, default/bare") || !strings.Contains(err.Error(), "uncordoned") {
		t.Fatalf("err = %v", err)
	}
	s := strings.Join(log, "\n")
	if !strings.Contains(s, "uncordon s-worker-1") || strings.Contains(s, "delete node") || strings.Contains(s, "kubeadm reset") {
		t.Errorf("ran:\n%s", s)
	}
}

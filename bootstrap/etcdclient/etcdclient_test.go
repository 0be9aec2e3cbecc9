package etcdclient

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/meshready/meshready/bootstrap"
	"github.com/meshready/meshready/toolchain"
)

// TestEtcdMoveLeaderOnRealMembers runs three real etcd members (the
// bundle's etcd, on loopback) and the client meshready uses: Members says
// which one leads, MoveLeader asked of the leader hands it to the member
// named, and asked of a follower it is refused (etcd serves a transfer
// only on the leader: why MoveLeader dials the leader's own URL).
func TestEtcdMoveLeaderOnRealMembers(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three etcd members")
	}
	dir, err := toolchain.DefaultDir(os.Getenv)
	must(t, err)
	bins, _ := filepath.Glob(filepath.Join(dir, "tools", "kubernetes-v*", "bin", "etcd"))
	if len(bins) == 0 {
		t.Skip("etcd is not built here: meshready tools --kubernetes builds it with the bundle")
	}
	ports := freePorts(t, 6)
	var cluster []string
	for i := range 3 {
		cluster = append(cluster, fmt.Sprintf("m%d=http://127.0.0.1:%d", i, ports[2*i+1]))
	}
	var urls []string
	for i := range 3 {
		client := fmt.Sprintf("http://127.0.0.1:%d", ports[2*i])
		peer := fmt.Sprintf("http://127.0.0.1:%d", ports[2*i+1])
		urls = append(urls, client)
		cmd := exec.Command(bins[0], "--name", fmt.Sprintf("m%d", i), "--data-dir", t.TempDir(),
			"--listen-client-urls", client, "--advertise-client-urls", client,
			"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
			"--initial-cluster", strings.Join(cluster, ","), "--initial-cluster-state", "new",
			"--heartbeat-interval", "50", "--election-timeout", "500", "--log-level", "error")
		cmd.Stderr = os.Stderr
		must(t, cmd.Start())
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	}
	c, err := clientv3.New(clientv3.Config{Endpoints: urls[:1], DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	must(t, err)
	e := client{c: c, host: "test"}
	defer e.Close()

	// members waits until three answer and one of them leads.
	members := func() (leader bootstrap.EtcdMember, followers []bootstrap.EtcdMember) {
		t.Helper()
		var last []bootstrap.EtcdMember
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			ms, err := e.Members(t.Context())
			if err != nil {
				continue
			}
			last, followers = ms, nil
			leaders, healthy := 0, 0
			for _, m := range ms {
				if m.Healthy {
					healthy++
				}
				if m.Leader {
					leaders++
					leader = m
				} else {
					followers = append(followers, m)
				}
			}
			if len(ms) == 3 && healthy == 3 && leaders == 1 {
				return leader, followers
			}
		}
		t.Fatalf("no three healthy members with one leader: %+v", last)
		return
	}
	leader, followers := members()
	to := followers[0]
	if err := e.MoveLeader(t.Context(), followers[1], to.ID); err == nil || !strings.Contains(err.Error(), "not leader") {
		t.Errorf("a transfer asked of a follower: %v, want etcd's refusal", err)
	}
	must(t, e.MoveLeader(t.Context(), leader, to.ID))
	if now, _ := members(); now.ID != to.ID {
		t.Errorf("after the transfer from %s to %s, %s leads", leader.Name, to.Name, now.Name)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := e.MoveLeader(ctx, bootstrap.EtcdMember{Name: "none"}, to.ID); err == nil {
		t.Error("a member without a client URL: no error")
	}
}

// freePorts are n loopback ports nothing listened on a moment ago.
func freePorts(t *testing.T, n int) []int {
	var ports []int
	var ls []net.Listener
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		must(t, err)
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

package local

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func addrs(s ...string) []netip.Addr {
	var out []netip.Addr
	for _, a := range s {
		out = append(out, netip.MustParseAddr(a))
	}
	return out
}

func TestLowestFree(t *testing.T) {
	for _, tc := range []struct {
		name   string
		subnet string
		used   []netip.Addr
		want   string // "" means no address left
	}{
		{"empty starts at .2", "10.213.0.0/24", nil, "10.213.0.2"},
		{"next", "10.213.0.0/24", addrs("10.213.0.2"), "10.213.0.3"},
		{"fills a gap", "10.213.0.0/24", addrs("10.213.0.2", "10.213.0.4"), "10.213.0.3"},
		{"other subnets do not count", "10.213.0.0/24", addrs("10.213.250.2", "10.213.1.2"), "10.213.0.2"},
		{"unmasked subnet", "10.213.0.77/24", nil, "10.213.0.2"},
		{"last before broadcast", "10.213.0.0/29", addrs("10.213.0.2", "10.213.0.3", "10.213.0.4", "10.213.0.5"), "10.213.0.6"},
		{"never the broadcast", "10.213.0.0/29", addrs("10.213.0.2", "10.213.0.3", "10.213.0.4", "10.213.0.5", "10.213.0.6"), ""},
		{"crosses an octet", "10.213.0.0/23", lowRange(254), "10.213.1.0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := lowestFree(netip.MustParsePrefix(tc.subnet), tc.used)
			if tc.want == "" {
				if err == nil {
					t.Fatalf("got %s, want an error", got)
				}
				return
			}
			if err != nil || got != netip.MustParseAddr(tc.want) {
				t.Fatalf("got %v, %v; want %s", got, err, tc.want)
			}
		})
	}
}

// lowRange is 10.213.0.2 ... 10.213.0.255, n addresses.
func lowRange(n int) []netip.Addr {
	var out []netip.Addr
	a := netip.MustParseAddr("10.213.0.2")
	for range n {
		out = append(out, a)
		a = a.Next()
	}
	return out
}

// Two stacks creating machines at once must never get one address: every
// reserve runs under the lock, whichever goroutine or process calls it.
func TestReserveConcurrent(t *testing.T) {
	dir := t.TempDir()
	machines, lockPath := filepath.Join(dir, "machines"), filepath.Join(dir, "machines.lock")
	subnet := netip.MustParsePrefix("10.213.250.0/24")
	const n = 24
	got := make([]record, n)
	errs := make([]error, n)
	var setups, inside atomic.Int32
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := record{ID: "mr-m" + string(rune('a'+i)), Subnet: subnet}
			got[i], errs[i] = reserve(context.Background(), machines, lockPath, r, func([]record) error {
				setups.Add(1)
				if inside.Add(1) != 1 {
					t.Error("two setups ran at once: the lock does not exclude")
				}
				time.Sleep(time.Millisecond)
				inside.Add(-1)
				return nil
			})
		}()
	}
	wg.Wait()
	seen := map[netip.Addr]string{}
	for i, r := range got {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if other, dup := seen[r.Address]; dup {
			t.Fatalf("%s and %s both got %s", r.ID, other, r.Address)
		}
		seen[r.Address] = r.ID
	}
	want, _ := lowestFree(subnet, nil)
	for range n {
		if _, ok := seen[want]; !ok {
			t.Errorf("%s was not handed out: addresses are not the lowest free ones", want)
		}
		want = want.Next()
	}
	if setups.Load() != n {
		t.Errorf("setup ran %d times, want %d", setups.Load(), n)
	}
	// The records are what a later reserve (another process) sees.
	all, err := readRecords(machines)
	if err != nil || len(all) != n {
		t.Fatalf("read back %d records, %v", len(all), err)
	}
	// A released address is handed out again, lowest first.
	if err := os.RemoveAll(filepath.Join(machines, got[0].ID)); err != nil {
		t.Fatal(err)
	}
	r, err := reserve(context.Background(), machines, lockPath, record{ID: "mr-again", Subnet: subnet}, nil)
	if err != nil || r.Address != got[0].Address {
		t.Errorf("after release got %v, %v; want %s", r.Address, err, got[0].Address)
	}
	if _, err := reserve(context.Background(), machines, lockPath, record{ID: "mr-again", Subnet: subnet}, nil); !errors.Is(err, errExists) {
		t.Errorf("a second reserve of one id: %v, want errExists", err)
	}
}

func TestLockHonoursContext(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	unlock, err := lock(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := lock(ctx, path); err == nil {
		t.Fatal("a held lock was taken twice")
	}
}

func TestParseIPAddr(t *testing.T) {
	out := `[{"ifindex":1,"ifname":"lo","addr_info":[{"family":"inet","local":"127.0.0.1","prefixlen":8}]},
{"ifindex":2,"ifname":"eth0","addr_info":[{"family":"inet","local":"192.0.2.2","prefixlen":24}]},
{"ifindex":5,"ifname":"mr-br0","addr_info":[]}]`
	links, err := parseIPAddr([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	l, ok := findLink(links, "eth0")
	if !ok || len(l.Addrs) != 1 || l.Addrs[0] != netip.MustParsePrefix("192.0.2.2/24") {
		t.Errorf("eth0: %+v", l)
	}
	if l, ok := findLink(links, "mr-br0"); !ok || len(l.Addrs) != 0 {
		t.Errorf("mr-br0: %+v", l)
	}
}

func TestValidID(t *testing.T) {
	for id, want := range map[string]bool{
		"mr-local-cp-0": true, MachineID("eu-worker-12"): true,
		"local-cp-0": false, "mr-": false, "mr-../../etc": false, "mr-a/b": false, "mr-UPPER": false, "": false,
	} {
		if got := validID(id); got != want {
			t.Errorf("validID(%q) = %v, want %v", id, got, want)
		}
	}
}

package benchmarks

import (
	"context"
	"fmt"
	"sync"

	"github.com/meshready/meshready/remote"
)

// PingCount and the 0.2 s interval give 4 s per pair: enough replies for a p99
// of the RTT etcd's heartbeat is derived from, short enough to run every time.
const PingCount = 20

// RTTs measures the round trip from every node to every other node, each
// source in parallel (its targets one after the other, so pings do not
// queue behind each other). A failed pair is recorded with 100 % loss and its
// error, not dropped.
func RTTs(ctx context.Context, nodes []Node) ([]RTT, []string) {
	return RTTsOf(ctx, nodes, func(from, to string) bool { return true })
}

// RTTsOf is RTTs of the pairs that pair says to measure.
func RTTsOf(ctx context.Context, nodes []Node, pair func(from, to string) bool) ([]RTT, []string) {
	var mu sync.Mutex
	var out []RTT
	var errs []string
	remote.Parallel(ctx, nodes, len(nodes), func(ctx context.Context, from Node) error {
		for _, to := range nodes {
			if to.Name == from.Name || !pair(from.Name, to.Name) {
				continue
			}
			cmd := fmt.Sprintf("ping -n -c %d -i 0.2 -W 1 %s", PingCount, remote.Quote(to.Address))
			res, err := from.Runner.Run(ctx, cmd)
			lat, loss, perr := ParsePing(res.Stdout)
			mu.Lock()
			if perr != nil {
				errs = append(errs, fmt.Sprintf("%s -> %s: %v %v", from.Name, to.Name, err, perr))
				loss = 100
			}
			out = append(out, RTT{From: from.Name, To: to.Name, Latency: lat, Loss: loss})
			mu.Unlock()
		}
		return nil
	})
	return out, errs
}

// RunAll runs the suite on every node in parallel, then the RTTs between them;
// notes say which RTTs could not be measured.
func RunAll(ctx context.Context, nodes []Node, o Options) (results []NodeResult, rtts []RTT, notes []string) {
	results = make([]NodeResult, len(nodes))
	remote.Parallel(ctx, nodes, len(nodes), func(ctx context.Context, n Node) error {
		for i := range nodes {
			if nodes[i].Name == n.Name {
				results[i] = RunNode(ctx, n, o)
			}
		}
		return nil
	})
	if len(nodes) < 2 {
		return results, nil, nil
	}
	rtts, notes = RTTs(ctx, nodes)
	return results, rtts, notes
}

// RunSome runs the suite on the nodes measure names, in parallel, and the
// RTTs of every pair with such a node at one end: what a run of nodes
// kept by the others needs when nodes join (or are measured again).
func RunSome(ctx context.Context, nodes []Node, measure map[string]bool, o Options) (results map[string]NodeResult, rtts []RTT, notes []string) {
	var some []Node
	for _, n := range nodes {
		if measure[n.Name] {
			some = append(some, n)
		}
	}
	got := make([]NodeResult, len(some))
	remote.Parallel(ctx, some, len(some), func(ctx context.Context, n Node) error {
		for i := range some {
			if some[i].Name == n.Name {
				got[i] = RunNode(ctx, n, o)
			}
		}
		return nil
	})
	results = map[string]NodeResult{}
	for i, n := range some {
		results[n.Name] = got[i]
	}
	rtts, notes = RTTsOf(ctx, nodes, func(from, to string) bool { return measure[from] || measure[to] })
	return results, rtts, notes
}

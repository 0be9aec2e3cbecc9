package stacks

import (
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/meshready/meshready/config"
)

// graph records what the program registers, as the engine would see it.
type graph struct {
	mu      sync.Mutex
	byName  map[string]pulumi.MockResourceArgs
	ordered []string
}

func (g *graph) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.byName[args.TypeToken+"::"+args.Name] = args
	g.ordered = append(g.ordered, args.TypeToken+"::"+args.Name)
	return args.Name + "-id", args.Inputs, nil
}

func (g *graph) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	return args.Args, nil
}

func run(t *testing.T, raw config.Raw) (*graph, error) {
	t.Helper()
	g := &graph{byName: map[string]pulumi.MockResourceArgs{}}
	err := pulumi.RunErr(Program(raw, Env{ProjectDir: t.TempDir()}), pulumi.WithMocks("meshready", "test", g))
	return g, err
}

func values(kv ...string) config.Raw {
	r := config.Raw{Values: map[string]string{}, Secrets: map[string]bool{}}
	for i := 0; i+1 < len(kv); i += 2 {
		r.Values[kv[i]] = kv[i+1]
	}
	return r
}

func TestProgramRegistersTheRegionTree(t *testing.T) {
	g, err := run(t, values("meshready:region", "hel1x", "meshready:nodes", `{"controlPlanes":3,"workers":2}`))
	if err != nil {
		t.Fatal(err)
	}
	region, ok := g.byName["meshready:stack:Region::hel1x"]
	if !ok {
		t.Fatalf("no region component; registered %v", g.ordered)
	}
	pool, ok := g.byName["meshready:infra:NodePool::nodes"]
	if !ok {
		t.Fatalf("no node pool; registered %v", g.ordered)
	}
	if !strings.HasSuffix(pool.RegisterRPC.GetParent(), "meshready:stack:Region::hel1x") {
		t.Errorf("node pool parent = %q, want the region", pool.RegisterRPC.GetParent())
	}
	if region.Custom || pool.Custom {
		t.Errorf("region and pool must be components")
	}
}

func TestBadConfigRegistersNothing(t *testing.T) {
	g, err := run(t, values("meshready:region", "r", "meshready:nodes", `{"controlPlanes":2}`))
	if err == nil || !strings.Contains(err.Error(), "meshready:nodes.controlPlanes") {
		t.Fatalf("want a config error naming the key, got %v", err)
	}
	if len(g.ordered) != 0 {
		t.Errorf("bad config registered %v", g.ordered)
	}
}

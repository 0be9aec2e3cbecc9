package infra

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/meshready/meshready/config"
)

type mocks struct{}

func (mocks) NewResource(a pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	return a.Name + "-id", a.Inputs, nil
}
func (mocks) Call(a pulumi.MockCallArgs) (resource.PropertyMap, error) { return a.Args, nil }

func TestPlanNamesControlPlanesFirst(t *testing.T) {
	cfg := config.Defaults()
	cfg.Region = "hel1"
	cfg.Nodes.ControlPlanes, cfg.Nodes.Workers = 3, 1
	var got []string
	for _, n := range Plan(&cfg) {
		got = append(got, n.Name+"/"+n.Role)
	}
	want := "hel1-cp-1/control-plane hel1-cp-2/control-plane hel1-cp-3/control-plane hel1-worker-1/worker"
	if strings.Join(got, " ") != want {
		t.Errorf("plan = %v, want %s", got, want)
	}
}

func TestNodePoolOutputsItsNodes(t *testing.T) {
	var got string
	var wg sync.WaitGroup
	wg.Add(1)
	err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		pool, err := NewNodePool(ctx, "nodes", &NodePoolArgs{
			Provider: config.ProviderLocal, Region: "r",
			Nodes: []NodeSpec{{Name: "r-cp-1", Role: "control-plane"}, {Name: "r-worker-1", Role: "worker"}},
		})
		if err != nil {
			return err
		}
		pool.Nodes.ApplyT(func(nodes []any) error {
			got = fmt.Sprint(nodes)
			wg.Done()
			return nil
		})
		return nil
	}, pulumi.WithMocks("meshready", "test", mocks{}))
	if err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if want := "[map[name:r-cp-1 role:control-plane] map[name:r-worker-1 role:worker]]"; got != want {
		t.Errorf("nodes = %s, want %s", got, want)
	}
}

package ops

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"

	"github.com/meshready/meshready/contract"
	"github.com/meshready/meshready/infra"
)

// ReplaceNode replaces one node through up: a new server behind its name,
// whose membership is a new one (the old one leaves first: drained when it
// answers, its etcd member removed, its Node deleted), then it joins. The
// cluster's first control plane is refused: its CA and etcd data are the
// cluster's identity, and kubeadm init runs once in a cluster's life.
func (w Workspace) ReplaceNode(ctx context.Context, stack, name string, yes bool, confirm func(string) bool) (LifecycleResult, error) {
	var res LifecycleResult
	cfg, err := w.ReadConfig(stack)
	if err != nil {
		return res, err
	}
	specs := infra.Plan(stack, cfg)
	var names []string
	found := false
	for _, s := range specs {
		names = append(names, s.Name)
		found = found || s.Name == name
	}
	if !found {
		return res, Inputf("node %q is not one of stack %s's nodes (%s)", name, stack, strings.Join(names, ", "))
	}
	if name == specs[0].Name {
		return res, Inputf("%s is the first control plane: the cluster's CA and etcd data were made there and its address is the API endpoint, "+
			"so it is not replaced in place; restore it from a snapshot (meshready etcd restore) or destroy the stack and bring it up again", name)
	}
	urn, err := w.serverURN(ctx, stack, name)
	if err != nil {
		return res, err
	}
	return w.Run(ctx, Lifecycle{Verb: "up", Stack: stack, Yes: yes, Confirm: confirm, Replace: []string{urn}})
}

// serverURN finds the URN of the server named name in the stack's state.
func (w Workspace) serverURN(ctx context.Context, stack, name string) (string, error) {
	st, err := w.Project.Select(ctx, stack)
	if auto.IsSelectStack404Error(err) {
		return "", Inputf("stack %s does not exist yet: run meshready up --stack %s", stack, stack)
	}
	if err != nil {
		return "", err
	}
	dep, err := st.Export(ctx)
	if err != nil {
		return "", fmt.Errorf("state of %s: %w", stack, err)
	}
	var state struct {
		Resources []struct {
			URN  string `json:"urn"`
			Type string `json:"type"`
		} `json:"resources"`
	}
	if err := json.Unmarshal(dep.Deployment, &state); err != nil {
		return "", fmt.Errorf("state of %s: %w", stack, err)
	}
	for _, r := range state.Resources {
		if r.Type == contract.Server().Token && strings.HasSuffix(r.URN, "::"+name) {
			return r.URN, nil
		}
	}
	return "", Inputf("node %s has no server in stack %s's state: run meshready up --stack %s, which makes it", name, stack, stack)
}

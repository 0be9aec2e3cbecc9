package ops

import (
	"context"
	"fmt"
	"time"

	"github.com/meshready/meshready/engine"
	"github.com/meshready/meshready/envs"
)

// ListEnvs lists every env in the backend.
func (w Workspace) ListEnvs(ctx context.Context) ([]envs.Env, error) {
	s, err := w.envStore()
	if err != nil {
		return nil, err
	}
	return s.List(ctx)
}

// GCEnvs destroys every expired env (only lists them with dryRun);
// failed reports each failure as it happens.
func (w Workspace) GCEnvs(ctx context.Context, dryRun bool, failed func(name string, err error)) (envs.GCResult, error) {
	s, err := w.envStore()
	if err != nil {
		return envs.GCResult{}, err
	}
	return envs.GC(ctx, s, time.Now(), dryRun, failed)
}

// envStore is the backend as package envs sees it.
type envStore struct {
	w  Workspace
	ep *engine.Project
}

func (w Workspace) envStore() (*envStore, error) {
	ep, err := w.Project.EnvWorkspace()
	if err != nil {
		return nil, err
	}
	return &envStore{w: w, ep: ep}, nil
}

// List reads every stack of the project in the backend and keeps the envs
// (region stacks share the backend and carry no env tag).
func (s *envStore) List(ctx context.Context) ([]envs.Env, error) {
	ws, err := s.ep.Workspace(ctx)
	if err != nil {
		return nil, err
	}
	sums, err := ws.ListStacks(ctx)
	if err != nil {
		return nil, fmt.Errorf("list stacks: %w", err)
	}
	now := time.Now()
	var out []envs.Env
	for _, sum := range sums {
		tags, err := ws.ListTags(ctx, sum.Name)
		if err != nil {
			return nil, fmt.Errorf("stack %s: tags: %w", sum.Name, err)
		}
		m, ok := envs.FromTags(sum.Name, tags)
		if !ok {
			continue
		}
		o := envs.Observed{UpdateInProgress: sum.UpdateInProgress}
		if st, err := s.ep.Select(ctx, sum.Name); err == nil {
			if h, err := st.History(ctx, 1, 1); err == nil && len(h) > 0 {
				o.LastResult, o.LastKind = h[0].Result, h[0].Kind
			}
		}
		out = append(out, envs.Env{Meta: m, Status: envs.StatusOf(m, o, now), Age: now.Sub(m.Created).Round(time.Second).String()})
	}
	return out, nil
}

func (s *envStore) Destroy(ctx context.Context, name string) error {
	_, err := s.w.destroyEnv(ctx, s.ep, name)
	return err
}

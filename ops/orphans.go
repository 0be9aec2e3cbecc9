package ops

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/meshready/meshready/infra/hetzner"
	"github.com/meshready/meshready/infra/local"
)

// Thing is one thing meshready made, as gc --orphans judges it.
type Thing struct {
	Where string `json:"where"` // local, hetzner
	Kind  string `json:"kind"`  // machine, server, ssh_key, placement_group, firewall, network
	ID    string `json:"id"`
	Name  string `json:"name"`
	Stack string `json:"stack"`
	Owner string `json:"owner,omitempty"`
	// Why it is kept (empty for an orphan).
	Why string `json:"why,omitempty"`
}

// OrphanResult is what gc --orphans found and did.
type OrphanResult struct {
	// Owner is this backend's label value.
	Owner string `json:"owner"`
	// Orphans carry this backend's label and belong to no stack in it:
	// deleted, or with --dry-run what would be.
	Orphans []Thing `json:"orphans"`
	DryRun  bool    `json:"dryRun"`
	// Kept are the things of no stack here that are not this backend's to
	// judge, with why.
	Kept []Thing `json:"kept"`
	// Failed deletes, by "where kind id".
	Failed map[string]string `json:"failed,omitempty"`
	// NotLooked names the places not looked at, with why.
	NotLooked map[string]string `json:"notLooked,omitempty"`
}

// JudgeOrphans sorts things into the orphans of the backend owner whose
// stacks are stacks, and those kept (with why). A thing of a stack in the
// backend is neither: it is alive. An empty owner judges nothing an orphan
// (it would match every unlabelled thing).
func JudgeOrphans(things []Thing, owner string, stacks []string) (orphans, kept []Thing) {
	for _, t := range things {
		live := slices.Contains(stacks, t.Stack)
		switch {
		case live && (t.Owner == owner || t.Owner == ""):
		case t.Owner == owner && owner != "":
			orphans = append(orphans, t)
		case t.Owner == "":
			t.Why = "not labelled with a backend (made before meshready labelled them, or by plain pulumi up): not known to be this backend's; delete it by hand if it is"
			kept = append(kept, t)
		default:
			t.Why = "another backend's or checkout's (meshready-backend=" + t.Owner + ")"
			kept = append(kept, t)
		}
	}
	return orphans, kept
}

// OrphanOptions say what GCOrphans may delete.
type OrphanOptions struct {
	// DryRun only lists.
	DryRun bool
	// Confirmed, when not nil, is the list a user agreed to: only orphans
	// in it are deleted; one found since is kept, to be asked about again.
	Confirmed []Thing
}

// GCOrphans finds what carries meshready's labels but belongs to no stack
// in this backend, on this host (local machines) and in the Hetzner project
// of HCLOUD_TOKEN when it is set, and deletes the orphans unless dry run.
// Things of another backend, or made before the backend label, are listed
// and never deleted.
//
// What is made for a stack is made after the stack is in the backend
// (Upsert first): so the things are listed first and the stacks after, and
// a thing being made for a new stack is always of a listed stack. The
// stacks are listed again right before deleting, so that a stack brought
// back meanwhile (an up that adopts what it left) keeps its things.
func (w Workspace) GCOrphans(ctx context.Context, o OrphanOptions) (OrphanResult, error) {
	owner, err := w.Project.Owner()
	if err != nil {
		return OrphanResult{}, err
	}
	res := OrphanResult{Owner: owner, DryRun: o.DryRun, NotLooked: map[string]string{}}

	var things []Thing
	lb, err := local.New(local.Options{CacheDir: w.Cache.Dir, Log: w.Log})
	if err != nil {
		return res, err
	}
	machines, err := lb.Inventory()
	if err != nil {
		return res, err
	}
	for _, m := range machines {
		things = append(things, Thing{Where: "local", Kind: "machine", ID: m.ID, Name: m.Name, Stack: m.Stack, Owner: m.Owner})
	}
	hopts := hetzner.Options{Token: w.Getenv("HCLOUD_TOKEN"), Endpoint: w.Getenv("HCLOUD_ENDPOINT"), Log: w.Log}
	var owned []hetzner.Owned
	if hopts.Token == "" {
		res.NotLooked["hetzner"] = "HCLOUD_TOKEN is not set"
	} else if owned, err = hetzner.Inventory(ctx, hopts); err != nil {
		return res, err
	}
	for _, o := range owned {
		things = append(things, Thing{Where: "hetzner", Kind: o.Kind, ID: strconv.FormatInt(o.ID, 10), Name: o.Name, Stack: o.Stack, Owner: o.Owner})
	}
	stacks, err := w.stackNames(ctx)
	if err != nil {
		return res, err
	}
	res.Orphans, res.Kept = JudgeOrphans(things, res.Owner, stacks)
	if o.DryRun {
		return res, nil
	}
	if o.Confirmed != nil {
		res.Orphans = keep(res.Orphans, &res.Kept, func(t Thing) string {
			if slices.ContainsFunc(o.Confirmed, func(c Thing) bool { return c.Where == t.Where && c.Kind == t.Kind && c.ID == t.ID }) {
				return ""
			}
			return "found after the list that was confirmed: run gc --orphans again to be asked about it"
		})
	}
	if stacks, err = w.stackNames(ctx); err != nil {
		return res, err
	}
	res.Orphans = keep(res.Orphans, &res.Kept, func(t Thing) string {
		if slices.Contains(stacks, t.Stack) {
			return "its stack came back into the backend while gc ran"
		}
		return ""
	})
	res.Failed = map[string]string{}
	var cloud []hetzner.Owned
	for _, t := range res.Orphans {
		switch t.Where {
		case "local":
			if err := lb.Delete(ctx, t.ID); err != nil {
				res.Failed["local machine "+t.ID] = err.Error()
			}
		case "hetzner":
			for _, o := range owned {
				if strconv.FormatInt(o.ID, 10) == t.ID && o.Kind == t.Kind {
					cloud = append(cloud, o)
				}
			}
		}
	}
	if len(cloud) > 0 {
		if err := hetzner.DeleteOwned(ctx, hopts, cloud); err != nil {
			res.Failed["hetzner"] = err.Error()
		}
	}
	return res, nil
}

// stackNames lists the backend's stacks by name (without org/project).
func (w Workspace) stackNames(ctx context.Context) ([]string, error) {
	ws, err := w.Project.Workspace(ctx)
	if err != nil {
		return nil, err
	}
	sums, err := ws.ListStacks(ctx)
	if err != nil {
		return nil, fmt.Errorf("list the backend's stacks: %w", err)
	}
	var stacks []string
	for _, s := range sums {
		stacks = append(stacks, s.Name[strings.LastIndex(s.Name, "/")+1:])
	}
	return stacks, nil
}

// keep moves the things why names a reason for out of orphans into kept.
func keep(orphans []Thing, kept *[]Thing, why func(Thing) string) []Thing {
	var out []Thing
	for _, t := range orphans {
		if w := why(t); w != "" {
			t.Why = w
			*kept = append(*kept, t)
			continue
		}
		out = append(out, t)
	}
	return out
}

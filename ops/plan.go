package ops

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"

	"github.com/meshready/meshready/config"
	"github.com/meshready/meshready/contract"
)

// Step is one step of an engine plan, as Words reads it.
type Step struct {
	// Op is the engine's: create, update, delete, replace, same, ...
	Op, Type, Name string
	// Old and New are the resource's inputs before and after.
	Old, New map[string]any
	// Diffs are the input keys that changed.
	Diffs []string
}

// stepOf reads a step from an engine event (ok false: no step).
func stepOf(e events.EngineEvent) (Step, bool) {
	if e.ResourcePreEvent == nil {
		return Step{}, false
	}
	m := e.ResourcePreEvent.Metadata
	s := Step{Op: string(m.Op), Type: m.Type, Diffs: m.Diffs}
	if i := strings.LastIndex(m.URN, "::"); i >= 0 {
		s.Name = m.URN[i+2:]
	}
	if m.Old != nil {
		s.Old = m.Old.Inputs
	}
	if m.New != nil {
		s.New = m.New.Inputs
	}
	return s, true
}

// Words says what a plan does to a running cluster, in the order it
// happens, one line each: who joins, who is drained and removed (and what
// becomes of its etcd member), who is measured, where etcd's flags roll.
func Words(steps []Step) []string {
	var out, rolls []string
	snapshots := ""
	for _, s := range steps {
		switch s.Type {
		case contract.Server().Token:
			switch s.Op {
			case "create":
				out = append(out, "create server "+s.Name)
			case "delete":
				out = append(out, "delete server "+s.Name)
			case "replace":
				out = append(out, "replace server "+s.Name+" with a new one (the old one deleted first)")
			}
		case contract.Suite().Token:
			switch s.Op {
			case "create", "replace":
				out = append(out, fmt.Sprintf("benchmark %s", strings.Join(names(s.New["nodes"]), ", ")))
			case "update":
				if _, known := s.New["nodes"].([]any); !known {
					// Unknown in a preview (servers' outputs come at up): the
					// nodes that turn out new are measured, no other.
					out = append(out, "benchmark the nodes that are new, if any (the other nodes keep their figures)")
					continue
				}
				added, gone := nodeChanges(s.Old["nodes"], s.New["nodes"])
				if len(added) > 0 {
					out = append(out, fmt.Sprintf("benchmark %s alone (the other nodes keep their figures)", strings.Join(added, ", ")))
				}
				if len(gone) > 0 {
					out = append(out, fmt.Sprintf("drop the figures of %s", strings.Join(gone, ", ")))
				}
			}
		case contract.Cluster().Token:
			switch s.Op {
			case "create":
				out = append(out, "kubeadm init on "+refName(s.New["controlPlane"])+" (once in the cluster's life)")
			case "update":
				if slices.Contains(s.Diffs, "version") {
					from, _ := s.Old["version"].(string)
					to, _ := s.New["version"].(string)
					out = append(out, fmt.Sprintf("upgrade Kubernetes %s -> %s: kubeadm upgrade apply on %s, then every other node one at a time (drain, new kubelet, Ready, uncordon), under a steady load",
						orWord(from, "the running version"), orWord(to, "the new version"), orFirst(refName(s.New["controlPlane"]))))
					snapshots = orFirst(refName(s.New["controlPlane"]))
				}
				if slices.Contains(s.Diffs, "etcd") || slices.Contains(s.Diffs, "controlPlanes") {
					rolls = append(rolls, orFirst(refName(s.New["controlPlane"])))
					snapshots = orFirst(refName(s.New["controlPlane"]))
				}
			case "delete", "replace":
				out = append(out, "delete the cluster")
			}
		case contract.Injection().Token:
			if s.Op == "update" && slices.Contains(s.Diffs, "revision") {
				from, _ := s.Old["revision"].(string)
				to, _ := s.New["revision"].(string)
				out = append(out, fmt.Sprintf("move namespace %s from istiod revision %s to %s: restart its workloads (Deployments first, under the probe watchers' calls), wait for them, then its mesh checks",
					s.Name, orWord(from, "(none: before revisions)"), orWord(to, "the new revision")))
			}
		case contract.Member().Token:
			if keep, _ := s.New["snapshotsKeep"].(float64); keep > 0 || s.New == nil {
				snapshots = orFirst(refName(first(s.New, s.Old)["controlPlane"]))
			}
			switch s.Op {
			case "create":
				out = append(out, join(s.Name, s.New))
			case "delete":
				out = append(out, leave(s.Name, s.Old))
			case "replace":
				out = append(out, "replace "+s.Name+": "+leave(s.Name, s.Old)+", then "+join(s.Name, s.New))
			case "update":
				if slices.Contains(s.Diffs, "etcdFlags") {
					rolls = append(rolls, s.Name)
				}
			}
		}
	}
	if len(rolls) > 0 {
		out = append(out, "roll etcd flags on "+strings.Join(rolls, ", ")+", one member at a time")
	}
	if snapshots != "" && len(out) > 0 {
		out = append(out, "an etcd snapshot on "+snapshots+" before each change to the cluster")
	}
	return out
}

func orWord(s, word string) string {
	if s == "" {
		return word
	}
	return s
}

// join and leave say what happens to member name (the resource's name is
// its node's; the node's inputs may be unknown in a preview).
func join(name string, in map[string]any) string {
	n, _ := in["node"].(map[string]any)
	if role, _ := n["role"].(string); role == config.RoleControlPlane {
		return "join " + name + " as a control plane (etcd grows by one member)"
	}
	return "join " + name
}

func leave(name string, in map[string]any) string {
	n, _ := in["node"].(map[string]any)
	member := "none"
	if role, _ := n["role"].(string); role == config.RoleControlPlane {
		member = "removed, once the quorum left is checked"
	}
	return "drain and remove " + name + " (its etcd member: " + member + ")"
}

// orFirst is name, or "the first control plane" when it is not known yet.
func orFirst(name string) string {
	if name == "" {
		return "the first control plane"
	}
	return name
}

func first(a, b map[string]any) map[string]any {
	if a != nil {
		return a
	}
	return b
}

func refName(v any) string {
	m, _ := v.(map[string]any)
	name, _ := m["name"].(string)
	return name
}

func names(v any) []string {
	list, _ := v.([]any)
	var out []string
	for _, n := range list {
		out = append(out, refName(n))
	}
	return out
}

// nodeChanges are the nodes of now that were not in before (or are a new
// server under the name), and those of before that are gone.
func nodeChanges(before, now any) (added, gone []string) {
	old := map[string]map[string]any{}
	for _, n := range asList(before) {
		old[refName(n)], _ = n.(map[string]any)
	}
	seen := map[string]bool{}
	for _, n := range asList(now) {
		m, _ := n.(map[string]any)
		name := refName(n)
		seen[name] = true
		if o, ok := old[name]; !ok || fmt.Sprint(o) != fmt.Sprint(m) {
			added = append(added, name)
		}
	}
	for name := range old {
		if !seen[name] {
			gone = append(gone, name)
		}
	}
	slices.Sort(gone)
	return added, gone
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

package hetzner

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/meshready/meshready/infra"
)

// The labels that mark what meshready owns. A server is ours only when it
// carries all of them with our values: Create adopts nothing else, and
// DeleteAll deletes nothing else.
const (
	labelOwner = "meshready"
	labelStack = "meshready-stack"
	labelName  = "meshready-name"
	labelRole  = "meshready-role"
	// labelIdentity tells this stack's servers from those of another
	// checkout or backend that uses the same stack name (the committed
	// hel1, CI's pr-42): a server is adopted only with our identity, and a
	// server with another is never deleted.
	labelIdentity = "meshready-identity"
)

// ownerLabels select everything of this Backend's stack.
func (b *Backend) ownerLabels() map[string]string {
	l := map[string]string{labelOwner: "true", labelStack: b.stack}
	if b.identity != "" {
		l[labelIdentity] = b.identity
	}
	return l
}

// createLabels are the labels of what this Backend makes: its owner
// labels and, when it has one, the backend that holds the stack's state.
func (b *Backend) createLabels() map[string]string {
	l := b.ownerLabels()
	if b.owner != "" {
		l[infra.LabelBackend] = b.owner
	}
	return l
}

// ours says why a server's labels are not this Backend's to delete ("" =
// they are). A server made before identities (no identity label) is ours
// by its stack label alone.
func (b *Backend) notOursToDelete(labels map[string]string) string {
	if labels[labelOwner] != "true" || labels[labelStack] != b.stack {
		return fmt.Sprintf("it is not labelled as stack %s's (labels %q)", b.stack, selector(labels))
	}
	if id, ok := labels[labelIdentity]; ok && b.identity != "" && id != b.identity {
		return fmt.Sprintf("it carries another identity (%s=%s, this stack's is %s): another checkout or backend made it", labelIdentity, id, b.identity)
	}
	return ""
}

// nameLabels select the one server made for a spec name.
func (b *Backend) nameLabels(name string) map[string]string {
	l := b.ownerLabels()
	l[labelName] = name
	return l
}

// serverLabels are the spec's labels plus ours; a spec label that contradicts
// ours (another stack, another name) is an error, not silently overwritten.
func (b *Backend) serverLabels(spec infra.ServerSpec) (map[string]string, error) {
	ours := b.nameLabels(spec.Name)
	ours[labelRole] = spec.Role
	if b.owner != "" {
		ours[infra.LabelBackend] = b.owner
	}
	out := maps.Clone(spec.Labels)
	if out == nil {
		out = map[string]string{}
	}
	for k, v := range ours {
		if have, ok := out[k]; ok && have != v {
			return nil, fmt.Errorf("label %s=%q contradicts meshready's %s=%q", k, have, k, v)
		}
		out[k] = v
	}
	for _, k := range slices.Sorted(maps.Keys(out)) {
		if err := checkLabelKey(k); err != nil {
			return nil, err
		}
		if err := checkLabelValue(k, out[k]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// selector renders labels as a Hetzner label_selector: k=v terms, comma-joined
// (a logical AND), in a stable order.
func selector(labels map[string]string) string {
	terms := make([]string, 0, len(labels))
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		terms = append(terms, k+"="+labels[k])
	}
	return strings.Join(terms, ",")
}

// hasLabels checks on our side what the label_selector asked the API for:
// deleting or adopting rests on it, so it does not rest on the API alone.
func hasLabels(have, want map[string]string) bool {
	for k, v := range want {
		if got, ok := have[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// checkLabelValue applies Hetzner's rule: at most 63 characters, empty or
// alphanumeric at both ends, with -, _ and . between.
func checkLabelValue(key, v string) error {
	if len(v) > 63 {
		return fmt.Errorf("label %s: value %q is longer than 63 characters", key, v)
	}
	if v == "" {
		return nil
	}
	if !isAlnum(v[0]) || !isAlnum(v[len(v)-1]) {
		return fmt.Errorf("label %s: value %q must begin and end with a letter or digit", key, v)
	}
	for i := range len(v) {
		if c := v[i]; !isAlnum(c) && c != '-' && c != '_' && c != '.' {
			return fmt.Errorf("label %s: value %q has %q; only letters, digits, -, _ and . are allowed", key, v, c)
		}
	}
	return nil
}

// checkLabelKey: an optional DNS-like prefix and "/", then a name that follows
// the value rule and is not empty.
func checkLabelKey(k string) error {
	name := k
	if i := strings.LastIndexByte(k, '/'); i >= 0 {
		if i == 0 || i > 253 {
			return fmt.Errorf("label key %q: bad prefix", k)
		}
		name = k[i+1:]
	}
	if name == "" {
		return fmt.Errorf("label key %q: empty name", k)
	}
	if checkLabelValue(k, name) != nil {
		return fmt.Errorf("label key %q: the name must be up to 63 letters, digits, -, _ or ., alphanumeric at both ends", k)
	}
	return nil
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

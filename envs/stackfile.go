package envs

import (
	"fmt"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Namespace is the config namespace keys get when --set names none.
const Namespace = "meshready"

// Set is one --set key=value: a config key and a path inside its value.
type Set struct {
	Key   string // namespaced: meshready:nodes
	Path  []string
	Value any
}

// ParseSet reads "nodes.workers=1" or "meshready:nodes.workers=1". The value
// is read as YAML, so numbers and booleans keep their type, lists and maps can
// be given in flow style ([a, b], {v1: 90}); quote to force a string
// ('kubernetes.version="1.34"').
func ParseSet(s string) (Set, error) {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return Set{}, fmt.Errorf("--set %q: want key=value", s)
	}
	parts := strings.Split(k, ".")
	for _, p := range parts {
		if p == "" {
			return Set{}, fmt.Errorf("--set %q: empty path segment in %q", s, k)
		}
	}
	key := parts[0]
	if !strings.Contains(key, ":") {
		key = Namespace + ":" + key
	}
	var val any
	if err := yaml.Unmarshal([]byte(v), &val); err != nil {
		return Set{}, fmt.Errorf("--set %q: value is not YAML: %w", s, err)
	}
	if val == nil {
		val = v // "key=" sets the empty string, as it reads
	}
	return Set{Key: key, Path: parts[1:], Value: val}, nil
}

// Derived is an env's stack file made from its base's.
type Derived struct {
	File []byte
	// Secrets are the base's keys with secure values, left out of File: only
	// the base stack can decrypt them, and the env's stack must encrypt them
	// anew with its own key (the engine does both).
	Secrets []string
}

// StackFile derives an env's stack file: the base's config with the sets
// applied in order (later wins) and unset paths removed. The base's
// encryption salt and key are dropped: they belong to the base stack.
func StackFile(name, base string, baseFile []byte, sets []Set, unset []Set) (Derived, error) {
	var in struct {
		Config map[string]any `yaml:"config"`
	}
	if err := yaml.Unmarshal(baseFile, &in); err != nil {
		return Derived{}, fmt.Errorf("stack %s: %w", base, err)
	}
	cfg := map[string]any{}
	var d Derived
	for k, v := range in.Config {
		if hasSecure(v) {
			d.Secrets = append(d.Secrets, k)
			continue
		}
		cfg[k] = v
	}
	sort.Strings(d.Secrets)
	for _, s := range sets {
		if isSecret(d.Secrets, s.Key) {
			return Derived{}, fmt.Errorf("--set %s: %s holds a secret in stack %s; set secrets by environment variable or in the base stack", strings.Join(append([]string{s.Key}, s.Path...), "."), s.Key, base)
		}
		if err := apply(cfg, s); err != nil {
			return Derived{}, err
		}
	}
	for _, u := range unset {
		remove(cfg, u)
	}
	body, err := yaml.Marshal(map[string]any{"config": cfg})
	if err != nil {
		return Derived{}, err
	}
	head := fmt.Sprintf("# meshready env %s, made from stacks/Pulumi.%s.yaml by `meshready env create`.\n", name, base)
	d.File = append([]byte(head), body...)
	return d, nil
}

func isSecret(secrets []string, key string) bool {
	for _, s := range secrets {
		if s == key {
			return true
		}
	}
	return false
}

// hasSecure finds {secure: ...} anywhere in a config value.
func hasSecure(v any) bool {
	switch v := v.(type) {
	case map[string]any:
		if _, ok := v["secure"]; ok && len(v) == 1 {
			return true
		}
		for _, x := range v {
			if hasSecure(x) {
				return true
			}
		}
	case []any:
		for _, x := range v {
			if hasSecure(x) {
				return true
			}
		}
	}
	return false
}

func apply(cfg map[string]any, s Set) error {
	if len(s.Path) == 0 {
		cfg[s.Key] = s.Value
		return nil
	}
	cur, ok := cfg[s.Key].(map[string]any)
	if !ok {
		if cfg[s.Key] != nil {
			return fmt.Errorf("--set %s.%s: %s is not a map", s.Key, strings.Join(s.Path, "."), s.Key)
		}
		cur = map[string]any{}
		cfg[s.Key] = cur
	}
	for i, p := range s.Path[:len(s.Path)-1] {
		next, ok := cur[p].(map[string]any)
		if !ok {
			if cur[p] != nil {
				return fmt.Errorf("--set %s.%s: %s is not a map", s.Key, strings.Join(s.Path, "."), strings.Join(append([]string{s.Key}, s.Path[:i+1]...), "."))
			}
			next = map[string]any{}
			cur[p] = next
		}
		cur = next
	}
	cur[s.Path[len(s.Path)-1]] = s.Value
	return nil
}

func remove(cfg map[string]any, s Set) {
	if len(s.Path) == 0 {
		delete(cfg, s.Key)
		return
	}
	cur, ok := cfg[s.Key].(map[string]any)
	for _, p := range s.Path[:len(s.Path)-1] {
		if !ok {
			return
		}
		cur, ok = cur[p].(map[string]any)
	}
	if ok {
		delete(cur, s.Path[len(s.Path)-1])
	}
}

package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/go-viper/mapstructure/v2"
)

// Raw is a stack's configuration as the Pulumi engine hands it to a program:
// namespaced keys ("meshready:nodes") to values, objects and lists JSON-encoded.
type Raw struct {
	Values map[string]string
	// Secrets names the keys that were set with --secret.
	Secrets map[string]bool
}

// Problem is one thing wrong with a stack's configuration.
type Problem struct {
	Key string // the full key, e.g. meshready:canary[0].subsets
	Msg string
}

func (p Problem) String() string { return p.Key + ": " + p.Msg }

// Problems is every problem found; as an error it prints one line each.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Parse reads and validates a stack's configuration. The error, if any, is
// Problems: every problem at once, so that one run shows a user all of them.
func Parse(raw Raw) (*Config, error) {
	cfg := Defaults()
	tree := map[string]any{}
	var probs Problems
	for key, val := range raw.Values {
		ns, name, ok := strings.Cut(key, ":")
		switch {
		case !ok:
			continue
		case ns == Namespace:
			tree[name] = decodeValue(val)
		case key == "hetzner:token":
			if !raw.Secrets[key] {
				probs = append(probs, Problem{key, "must be a secret: pulumi config set --secret hetzner:token <token>"})
			}
			cfg.Hetzner.Token = Secret(val)
		}
	}

	decodeProbs := decode(tree, &cfg)
	probs = append(probs, decodeProbs...)
	if len(decodeProbs) == 0 {
		// A value that could not be decoded is left at its default; validating
		// it would add complaints about what the user did not write.
		probs = append(probs, Validate(&cfg)...)
	}
	if len(probs) > 0 {
		sort.SliceStable(probs, func(i, j int) bool { return probs[i].Key < probs[j].Key })
		return nil, probs
	}
	return &cfg, nil
}

// decodeValue turns one engine value back into data: objects, lists, numbers
// and booleans arrive JSON-encoded, plain strings as they are.
func decodeValue(s string) any {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber() // keep 10.5 from becoming a silent 10 in an int field
	var v any
	if err := dec.Decode(&v); err != nil || dec.More() {
		return s
	}
	return v
}

// decode fills cfg from the tree; mapstructure reports unknown keys with their
// full path (nodes.static[1].hostkey), which hand-written JSON walking would not.
func decode(tree map[string]any, cfg *Config) Problems {
	var md mapstructure.Metadata
	dc := &mapstructure.DecoderConfig{
		Result:     cfg,
		Metadata:   &md,
		DecodeHook: hooks(),
		// Keys are matched exactly: "controlplanes" is a typo, not a synonym.
		MatchName: func(mapKey, fieldName string) bool { return mapKey == fieldName },
	}
	d, err := mapstructure.NewDecoder(dc)
	if err != nil {
		return Problems{{Namespace, err.Error()}}
	}
	var probs Problems
	if err := d.Decode(tree); err != nil {
		probs = append(probs, decodeProblems(err)...)
	}
	for _, k := range md.Unused {
		probs = append(probs, Problem{Namespace + ":" + k, "unknown key"})
	}
	return probs
}

// decodeProblems maps mapstructure's joined errors to keyed problems.
func decodeProblems(err error) Problems {
	var out Problems
	var walk func(error)
	walk = func(e error) {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, inner := range j.Unwrap() {
				walk(inner)
			}
			return
		}
		var de *mapstructure.DecodeError
		if errors.As(e, &de) {
			// The innermost DecodeError names the deepest key.
			inner := de
			for {
				var next *mapstructure.DecodeError
				if !errors.As(inner.Unwrap(), &next) {
					break
				}
				inner = next
			}
			out = append(out, Problem{Namespace + ":" + inner.Name(), cleanMsg(inner.Unwrap())})
			return
		}
		out = append(out, Problem{Namespace, e.Error()})
	}
	walk(err)
	return out
}

func cleanMsg(err error) string {
	msg := err.Error()
	msg = strings.ReplaceAll(msg, "'", "")
	return msg
}

// hooks converts config text into meshready's own value types.
func hooks() mapstructure.DecodeHookFunc {
	durationT := reflect.TypeFor[Duration]()
	versionT := reflect.TypeFor[Version]()
	var self mapstructure.DecodeHookFuncType
	self = func(from, to reflect.Type, data any) (any, error) {
		if av, ok := reflect.Zero(to).Interface().(autoValue); ok {
			return av.decodeAuto(data, func(in, out any) error {
				d, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{Result: out, DecodeHook: self})
				if err != nil {
					return err
				}
				err = d.Decode(in)
				// A nested decode names no key; the outer decode adds it.
				var de *mapstructure.DecodeError
				if errors.As(err, &de) && de.Name() == "" {
					return de.Unwrap()
				}
				return err
			})
		}
		switch to {
		case durationT:
			switch v := data.(type) {
			case json.Number:
				return nil, fmt.Errorf("%s has no unit: write e.g. \"30s\" or \"150ms\"", v)
			case string:
				return ParseDuration(v)
			}
		case versionT:
			if n, ok := data.(json.Number); ok {
				return nil, fmt.Errorf("write the version as a quoted string such as \"1.34.4\" (YAML reads %s as a number)", n)
			}
		}
		switch to.Kind() {
		case reflect.Int, reflect.Int64:
			if n, ok := data.(json.Number); ok {
				if _, err := n.Int64(); err != nil {
					return nil, fmt.Errorf("want a whole number, got %s", n)
				}
			}
		}
		return data, nil
	}
	return self
}

// autoValue is implemented by every Auto[T], so one hook serves them all.
type autoValue interface {
	decodeAuto(data any, decode func(in, out any) error) (any, error)
}

func (Auto[T]) decodeAuto(data any, decode func(in, out any) error) (any, error) {
	if s, ok := data.(string); ok && s == "auto" {
		return Auto[T]{}, nil
	}
	var v T
	if err := decode(data, &v); err != nil {
		return nil, fmt.Errorf("want \"auto\" or a value: %w", err)
	}
	return Auto[T]{Value: v, Set: true}, nil
}

// ParseEtcd reads the meshready:etcd knobs from their JSON (as the cluster
// resource carries them), checked as in a stack file.
func ParseEtcd(js string) (Etcd, error) {
	if js == "" {
		return Defaults().Etcd, nil
	}
	cfg, err := Parse(Raw{Values: map[string]string{Namespace + ":region": "x", Namespace + ":etcd": js}, Secrets: map[string]bool{}})
	if err != nil {
		return Etcd{}, fmt.Errorf("etcd settings: %w", err)
	}
	return cfg.Etcd, nil
}

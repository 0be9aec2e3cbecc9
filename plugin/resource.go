package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pplugin "github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"

	"github.com/meshready/meshready/contract"
)

// Resource is what the plugin does for one resource type, on Pulumi's
// property maps. Each type's file implements handler on its own Go types
// and typed turns that into a Resource: decode, call the domain, encode.
type Resource interface {
	Check(olds, news resource.PropertyMap) (resource.PropertyMap, []pplugin.CheckFailure, error)
	Diff(olds, oldOutputs, news resource.PropertyMap) (pplugin.DiffResult, error)
	Create(ctx context.Context, news resource.PropertyMap) (resource.ID, resource.PropertyMap, error)
	Read(ctx context.Context, id resource.ID, inputs, state resource.PropertyMap) (resource.ID, resource.PropertyMap, error)
	Update(ctx context.Context, id resource.ID, oldOutputs, news resource.PropertyMap) (resource.PropertyMap, error)
	Delete(ctx context.Context, id resource.ID, inputs, outputs resource.PropertyMap) error
}

// handler is one resource type's behaviour on its contract types: read
// and delete (embed noop where the resource lives only in state), and one
// of creator or rerunner, with updater for a type with Update keys.
type handler[I, O any] interface {
	// read returns the resource as it is now; ok false means it is gone.
	read(ctx context.Context, id string, in I, state O) (out O, ok bool, err error)
	delete(ctx context.Context, id string, in I, state O) error
}

// creator makes the resource.
type creator[I, O any] interface {
	create(ctx context.Context, in I) (id string, out O, err error)
}

// updater applies a change of an Update key; old are the stored outputs.
type updater[I, O any] interface {
	update(ctx context.Context, id string, old O, in I) (O, error)
}

// rerunner is a step that does the same work when created and whenever an
// Update key changes (a check, a benchmark); id names it.
type rerunner[I, O any] interface {
	run(ctx context.Context, in I) (O, error)
	id(in I) string
}

// noop is the embeddable handler part for resources that live only in
// state: read keeps the state, delete does nothing.
type noop[I, O any] struct{}

func (noop[I, O]) read(_ context.Context, _ string, _ I, state O) (O, bool, error) {
	return state, true, nil
}
func (noop[I, O]) delete(context.Context, string, I, O) error { return nil }

// checker is a handler that validates its inputs before any plan.
type checker[I any] interface {
	check(in I) []pplugin.CheckFailure
}

// defaulter is a handler that settles inputs the program left to the
// plugin, from the inputs the resource has now (olds: empty for a new
// one). It works on property maps: news may hold unknowns and secrets.
type defaulter interface {
	defaults(olds, news resource.PropertyMap) resource.PropertyMap
}

// guard is a handler that refuses some changes outright, in the diff, so
// that preview and up fail before anything runs.
type guard[I any] interface {
	guard(old, new I) error
}

// differ is a handler with a rule the policy cannot say as data.
type differ interface {
	diff(oldOutputs, news resource.PropertyMap, d pplugin.DiffResult) pplugin.DiffResult
}

// typed adapts a handler to Resource through the contract's types.
type typed[I, O any] struct {
	def contract.Def[I, O]
	h   handler[I, O]
}

// secrets are the output keys kept secret: the outputs' own, and the
// secret inputs that outputs repeat.
func (t typed[I, O]) secrets() []string {
	return append(append([]string{}, t.def.SecretInputs...), t.def.SecretOutputs...)
}

func (t typed[I, O]) Check(olds, news resource.PropertyMap) (resource.PropertyMap, []pplugin.CheckFailure, error) {
	if d, ok := t.h.(defaulter); ok {
		news = d.defaults(olds, news.Copy())
	}
	in, err := decodeStrict[I](news)
	if err != nil {
		return news, nil, fmt.Errorf("%s inputs: %w", t.def.Token, err)
	}
	if c, ok := t.h.(checker[I]); ok {
		return news, c.check(in), nil
	}
	return news, nil, nil
}

func (t typed[I, O]) Diff(olds, oldOutputs, news resource.PropertyMap) (pplugin.DiffResult, error) {
	if g, ok := t.h.(guard[I]); ok {
		o, err := decode[I](olds)
		if err != nil {
			return pplugin.DiffResult{}, fmt.Errorf("%s inputs: %w", t.def.Token, err)
		}
		n, err := decode[I](news)
		if err != nil {
			return pplugin.DiffResult{}, fmt.Errorf("%s inputs: %w", t.def.Token, err)
		}
		if err := g.guard(o, n); err != nil {
			return pplugin.DiffResult{}, err
		}
	}
	d, err := diff[I](t.def.Diff, olds, news)
	if err != nil {
		return d, fmt.Errorf("%s: %w", t.def.Token, err)
	}
	if x, ok := t.h.(differ); ok {
		d = x.diff(oldOutputs, news, d)
	}
	return d, nil
}

func (t typed[I, O]) Create(ctx context.Context, news resource.PropertyMap) (resource.ID, resource.PropertyMap, error) {
	in, err := decode[I](news)
	if err != nil {
		return "", nil, fmt.Errorf("%s inputs: %w", t.def.Token, err)
	}
	var id string
	var out O
	switch h := t.h.(type) {
	case creator[I, O]:
		id, out, err = h.create(ctx, in)
	case rerunner[I, O]:
		id = h.id(in)
		out, err = h.run(ctx, in)
	default:
		err = fmt.Errorf("%s: the plugin cannot create it", t.def.Token)
	}
	if err != nil {
		return "", nil, err
	}
	props, err := encode(out, t.secrets())
	return resource.ID(id), props, err
}

func (t typed[I, O]) Read(ctx context.Context, id resource.ID, inputs, state resource.PropertyMap) (resource.ID, resource.PropertyMap, error) {
	in, err := decode[I](inputs)
	if err != nil {
		return "", nil, fmt.Errorf("%s inputs: %w", t.def.Token, err)
	}
	old, err := decode[O](state)
	if err != nil {
		return "", nil, fmt.Errorf("%s state: %w", t.def.Token, err)
	}
	out, ok, err := t.h.read(ctx, string(id), in, old)
	if err != nil || !ok {
		return "", nil, err
	}
	props, err := encode(out, t.secrets())
	return id, overlay(state, props), err
}

func (t typed[I, O]) Update(ctx context.Context, id resource.ID, oldOutputs, news resource.PropertyMap) (resource.PropertyMap, error) {
	in, err := decode[I](news)
	if err != nil {
		return nil, fmt.Errorf("%s inputs: %w", t.def.Token, err)
	}
	old, err := decode[O](oldOutputs)
	if err != nil {
		return nil, fmt.Errorf("%s state: %w", t.def.Token, err)
	}
	var out O
	switch h := t.h.(type) {
	case updater[I, O]:
		out, err = h.update(ctx, string(id), old, in)
	case rerunner[I, O]:
		out, err = h.run(ctx, in)
	default:
		err = fmt.Errorf("%s has nothing to update in place", t.def.Token)
	}
	if err != nil {
		return nil, err
	}
	return encode(out, t.secrets())
}

func (t typed[I, O]) Delete(ctx context.Context, id resource.ID, inputs, outputs resource.PropertyMap) error {
	in, err := decode[I](inputs)
	if err != nil {
		return fmt.Errorf("%s inputs: %w", t.def.Token, err)
	}
	state, err := decode[O](outputs)
	if err != nil {
		return fmt.Errorf("%s state: %w", t.def.Token, err)
	}
	return t.h.delete(ctx, string(id), in, state)
}

// decode reads properties into T through their JSON shape: secrets
// unwrapped, unknowns (in a preview) empty, keys T does not declare (left
// by an older meshready in state) skipped.
func decode[T any](m resource.PropertyMap) (T, error) {
	var v T
	b, err := json.Marshal(plain(resource.NewProperty(m)))
	if err != nil {
		return v, err
	}
	return v, json.Unmarshal(b, &v)
}

// decodeStrict is decode refusing keys T does not declare: what the
// program sends must be what the plugin reads.
func decodeStrict[T any](m resource.PropertyMap) (T, error) {
	var v T
	b, err := json.Marshal(plain(resource.NewProperty(m)))
	if err != nil {
		return v, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return v, dec.Decode(&v)
}

// encode turns v into properties, the keys in secrets marked secret.
func encode(v any, secrets []string) (resource.PropertyMap, error) {
	p, err := contract.Plain(v)
	if err != nil {
		return nil, err
	}
	m, _ := p.(map[string]any)
	out := resource.NewPropertyMapFromMap(m)
	for _, k := range secrets {
		if v, ok := out[resource.PropertyKey(k)]; ok && !v.IsSecret() {
			out[resource.PropertyKey(k)] = resource.MakeSecret(v)
		}
	}
	return out, nil
}

// overlay is base with every key of top put over it.
func overlay(base, top resource.PropertyMap) resource.PropertyMap {
	out := base.Copy()
	for k, v := range top {
		out[k] = v
	}
	return out
}

// plain turns a property value into plain Go data: secrets unwrapped, unknowns nil.
func plain(v resource.PropertyValue) any {
	switch {
	case v.IsSecret():
		return plain(v.SecretValue().Element)
	case v.IsComputed() || v.IsOutput() && !v.OutputValue().Known:
		return nil
	case v.IsOutput():
		return plain(v.OutputValue().Element)
	case v.IsObject():
		out := map[string]any{}
		for k, e := range v.ObjectValue() {
			out[string(k)] = plain(e)
		}
		return out
	case v.IsArray():
		out := []any{}
		for _, e := range v.ArrayValue() {
			out = append(out, plain(e))
		}
		return out
	}
	return v.Mappable()
}

// diff applies a policy: each key compared as the contract's type reads
// it (so a key left out and its zero value are the same), a key unknown
// in a preview counted as changed.
func diff[I any](p contract.Policy, olds, news resource.PropertyMap) (pplugin.DiffResult, error) {
	o, err := keyed[I](olds)
	if err != nil {
		return pplugin.DiffResult{}, err
	}
	n, err := keyed[I](news)
	if err != nil {
		return pplugin.DiffResult{}, err
	}
	changed := func(k string) bool {
		return news[resource.PropertyKey(k)].ContainsUnknowns() || !reflect.DeepEqual(o[k], n[k])
	}
	var replace, update []resource.PropertyKey
	for _, k := range p.Replace {
		if changed(k) {
			replace = append(replace, resource.PropertyKey(k))
		}
	}
	for _, k := range p.Update {
		if changed(k) {
			update = append(update, resource.PropertyKey(k))
		}
	}
	if len(replace) == 0 && len(update) == 0 {
		return pplugin.DiffResult{Changes: pplugin.DiffNone}, nil
	}
	return pplugin.DiffResult{
		Changes:             pplugin.DiffSome,
		ReplaceKeys:         replace,
		ChangedKeys:         append(append([]resource.PropertyKey{}, replace...), update...),
		DeleteBeforeReplace: len(replace) > 0 && p.DeleteBeforeReplace,
	}, nil
}

// keyed is m as type I reads it, by JSON key.
func keyed[I any](m resource.PropertyMap) (map[string]any, error) {
	v, err := decode[I](m)
	if err != nil {
		return nil, err
	}
	p, err := contract.Plain(v)
	if err != nil {
		return nil, err
	}
	out, _ := p.(map[string]any)
	return out, nil
}

// Package contract is the one typed contract between the Pulumi program
// (stacks/) and meshready's provider plugin (plugin/). Every resource the
// plugin serves is declared here once: its type token, its inputs and
// outputs as Go types, which outputs and inputs are secret, and its diff
// policy as data (what replaces, what updates in place, what is ignored).
//
// The program registers a resource with an Args value: the Inputs type with
// the fields known only later (another resource's outputs) as pulumi inputs.
// Register maps Args onto the Inputs type by field name and takes each key
// from the Inputs' JSON tag, so the keys are written once; the plugin
// decodes the same keys into the same Inputs type. contract_test proves it
// for every resource through Pulumi mocks.
package contract

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumix"

	"github.com/meshready/meshready/remote"
)

// Policy is how a change of inputs is applied, by input key. A key in no
// list is ignored: its new value is stored, nothing runs. That is what a
// key the contract no longer declares (found in an older state) gets too.
type Policy struct {
	// Replace: a new value means a new resource (Create, then Delete the old
	// one; the old one first with DeleteBeforeReplace).
	Replace []string
	// Update: a new value runs the resource's Update in place.
	Update []string
	// Ignore lists the declared keys that never cause anything (logins,
	// paths on the machine running up): a test checks every key is in one list.
	Ignore              []string
	DeleteBeforeReplace bool
}

// Def declares one resource type the plugin serves, with inputs I and outputs O.
type Def[I, O any] struct {
	Token string
	Diff  Policy
	// SecretInputs and SecretOutputs are keys stored encrypted in state.
	SecretInputs, SecretOutputs []string
}

// Type is the resource's type token.
func (d Def[I, O]) Type() string { return d.Token }

// Keys are the input keys I declares, with whether each may be left out.
func (d Def[I, O]) Keys() map[string]bool { return Keys(reflect.TypeFor[I]()) }

// Spec is a Def without its Go types' parameters, for listing them all.
type Spec struct {
	Token                       string
	Diff                        Policy
	Inputs, Outputs             reflect.Type
	SecretInputs, SecretOutputs []string
}

// Spec describes d.
func (d Def[I, O]) Spec() Spec {
	return Spec{Token: d.Token, Diff: d.Diff, Inputs: reflect.TypeFor[I](), Outputs: reflect.TypeFor[O](),
		SecretInputs: d.SecretInputs, SecretOutputs: d.SecretOutputs}
}

// All lists every resource the plugin serves.
func All() []Spec {
	return []Spec{
		Server().Spec(), SSHKey().Spec(), Suite().Spec(), Cluster().Spec(), Member().Spec(), PodNetwork().Spec(),
		Preflight().Spec(), Webhooks().Spec(), Injection().Spec(), Checks().Spec(), Latency().Spec(),
	}
}

// Register registers a resource of type d on the program side. args must be
// a struct whose fields are named as I's: plain values for what is known
// now, pulumi inputs for what another resource will output.
func Register[I, O any](ctx *pulumi.Context, d Def[I, O], name string, args any, res pulumi.CustomResource, opts ...pulumi.ResourceOption) error {
	props, err := InputMap(args, reflect.TypeFor[I](), d.SecretInputs)
	if err != nil {
		return fmt.Errorf("%s %s: %w", d.Token, name, err)
	}
	if len(d.SecretOutputs) > 0 {
		opts = append(opts, pulumi.AdditionalSecretOutputs(d.SecretOutputs))
	}
	if d.Diff.DeleteBeforeReplace {
		// The engine reads the plugin's diff for replacements it plans, but
		// a replacement asked for (up --replace, meshready node replace) is
		// create-before-delete unless the resource says otherwise: a new
		// server under a name the provider holds unique would find the old.
		opts = append(opts, pulumi.DeleteBeforeReplace(true))
	}
	if err := ctx.RegisterResource(d.Type(), name, props, res, opts...); err != nil {
		return fmt.Errorf("%s %s: %w", d.Token, name, err)
	}
	return nil
}

// InputMap turns args into the property map the engine hands the plugin,
// keyed by the JSON tags of inputs (the type whose fields args mirrors).
func InputMap(args any, inputs reflect.Type, secrets []string) (pulumi.Map, error) {
	m := pulumi.Map{}
	if err := fill(reflect.ValueOf(args), inputs, m); err != nil {
		return nil, err
	}
	for _, k := range secrets {
		if v, ok := m[k]; ok {
			m[k] = pulumi.ToSecret(v)
		}
	}
	return m, nil
}

var inputType = reflect.TypeFor[pulumi.Input]()

func fill(av reflect.Value, it reflect.Type, m pulumi.Map) error {
	at := av.Type()
	for i := range at.NumField() {
		af := at.Field(i)
		f, ok := it.FieldByName(af.Name)
		if !ok {
			return fmt.Errorf("args field %s is not an input of %s", af.Name, it.Name())
		}
		v := av.Field(i)
		if f.Anonymous { // an embedded struct of I: its own args struct, flattened
			if err := fill(v, f.Type, m); err != nil {
				return err
			}
			continue
		}
		key, optional := jsonKey(f)
		if af.Type.Implements(inputType) {
			if (v.Kind() == reflect.Interface || v.Kind() == reflect.Pointer) && v.IsNil() {
				continue
			}
			m[key] = plainInput(v.Interface().(pulumi.Input))
			continue
		}
		if optional && v.IsZero() {
			continue
		}
		p, err := Plain(v.Interface())
		if err != nil {
			return fmt.Errorf("input %s: %w", key, err)
		}
		m[key] = pulumi.Any(p)
	}
	return nil
}

// plainInput keeps inputs of basic types as they are and turns structured
// ones into JSON-shaped values when they resolve, so that nested keys come
// from JSON tags here too (the SDK would read pulumi tags).
func plainInput(in pulumi.Input) pulumi.Input {
	switch in.ElementType().Kind() {
	case reflect.Struct, reflect.Slice, reflect.Array, reflect.Pointer, reflect.Map:
		return pulumi.ToOutput(in).ApplyT(func(x any) (any, error) { return Plain(x) })
	}
	return in
}

// Plain is v as JSON would carry it: maps, slices, strings, float64s, bools.
func Plain(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out any
	err = json.Unmarshal(b, &out)
	return out, err
}

// Keys lists the JSON keys of struct type t (embedded structs flattened),
// each with whether it is optional (omitempty).
func Keys(t reflect.Type) map[string]bool {
	out := map[string]bool{}
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous {
			for k, o := range Keys(f.Type) {
				out[k] = o
			}
			continue
		}
		k, o := jsonKey(f)
		out[k] = o
	}
	return out
}

func jsonKey(f reflect.StructField) (string, bool) {
	name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
	if name == "" {
		name = f.Name
	}
	return name, strings.Contains(opts, "omitempty")
}

// Access is how the plugin logs in to a stack's nodes; every resource that
// runs commands on nodes embeds it. Neither key ever causes a change.
type Access struct {
	// SSHPrivateKey (a secret) logs in to the servers meshready created.
	SSHPrivateKey string `json:"sshPrivateKey,omitempty"`
	// IdentityFile logs in to static servers ("" = the SSH agent). A path on
	// the machine that runs up, so never a reason to change anything.
	IdentityFile string `json:"identityFile,omitempty"`
}

// AccessArgs is Access as the program gives it.
type AccessArgs struct {
	SSHPrivateKey pulumi.StringInput
	IdentityFile  string
}

// Auth is the SSH login Access describes.
func (a Access) Auth() remote.Auth {
	return remote.Auth{PrivateKey: []byte(a.SSHPrivateKey), IdentityFile: a.IdentityFile}
}

// ignoreAccess is keys plus Access' keys, which every diff policy ignores.
func ignoreAccess(keys ...string) []string {
	return append(keys, "sshPrivateKey", "identityFile")
}

// NodeRef is one node as the steps after the servers reach it: by address,
// pinned by its host key.
type NodeRef struct {
	Name    string `json:"name"`
	Role    string `json:"role"`
	Address string `json:"address"`
	SSHPort int    `json:"sshPort"`
	SSHUser string `json:"sshUser"`
	HostKey string `json:"hostKey"`
	// InternalAddress is where the other nodes reach this one, when it is
	// not Address: the private network's address of a Hetzner server,
	// whose Address (SSH, the kubeconfig) is public. Kubernetes uses it
	// for the kubelet's node IP, etcd and the API server.
	InternalAddress string `json:"internalAddress,omitempty"`
	// Instance tells this server from an earlier one of the same name
	// (contract.ServerOutputs.Instance): a step keyed by the node runs
	// again on a new server.
	Instance string `json:"instance,omitempty"`
}

// Internal is the address Kubernetes uses for the node.
func (n NodeRef) Internal() string {
	if n.InternalAddress != "" {
		return n.InternalAddress
	}
	return n.Address
}

// Target is where SSH reaches the node.
func (n NodeRef) Target() remote.Target {
	return remote.Target{Name: n.Name, Address: n.Address, Port: n.SSHPort, User: n.SSHUser, HostKey: n.HostKey}
}

// NodeRefsInput is a list of nodes that resolves once the servers exist.
type NodeRefsInput = pulumix.Input[[]NodeRef]

// Decode reads v (JSON-shaped values, as outputs arrive in the program)
// into T.
func Decode[T any](v any) (T, error) {
	var out T
	b, err := json.Marshal(v)
	if err != nil {
		return out, err
	}
	return out, json.Unmarshal(b, &out)
}

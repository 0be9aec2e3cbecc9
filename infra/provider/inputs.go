package provider

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
)

// ServerInputs are a meshready:infra:Server's inputs.
type ServerInputs struct {
	Backend      string            `json:"backend"`
	Stack        string            `json:"stack"`
	Name         string            `json:"name"`
	Role         string            `json:"role"`
	Region       string            `json:"region"`
	ServerType   string            `json:"serverType,omitempty"`
	Image        string            `json:"image,omitempty"`
	SSHPublicKey string            `json:"sshPublicKey,omitempty"`
	Labels       map[string]string `json:"labels,omitempty"`
	// SSHPrivateKey (a secret) logs in to servers meshready created.
	SSHPrivateKey string `json:"sshPrivateKey,omitempty"`
	// IdentityFile logs in to static servers ("" = the SSH agent).
	IdentityFile string         `json:"identityFile,omitempty"`
	Static       *StaticInputs  `json:"static,omitempty"`
	Hetzner      *HetznerInputs `json:"hetzner,omitempty"`
	Local        *LocalInputs   `json:"local,omitempty"`
}

// StaticInputs describe a server that exists already.
type StaticInputs struct {
	Address string `json:"address"`
	Port    int    `json:"port,omitempty"`
	User    string `json:"user,omitempty"`
	HostKey string `json:"hostKey"`
}

// HetznerInputs reach the Hetzner Cloud API.
type HetznerInputs struct {
	Token    string `json:"token"` // a secret
	Endpoint string `json:"endpoint,omitempty"`
}

// LocalInputs place nspawn machines on the project's bridge.
type LocalInputs struct {
	Bridge string `json:"bridge"`
	Subnet string `json:"subnet"`
}

// replaceKeys are the inputs a running server cannot change: a new value means a new server.
var replaceKeys = []string{"backend", "stack", "name", "role", "region", "serverType", "image", "sshPublicKey", "static", "local"}

// decodeServer reads a server's inputs.
func decodeServer(m resource.PropertyMap) (ServerInputs, error) {
	return decode[ServerInputs](m, "server")
}

// decode reads a resource's inputs into T, seeing through secrets; unknown
// values (in a preview) read as empty.
func decode[T any](m resource.PropertyMap, what string) (T, error) {
	var in T
	b, err := json.Marshal(plain(resource.NewProperty(m)))
	if err != nil {
		return in, err
	}
	if err := json.Unmarshal(b, &in); err != nil {
		return in, fmt.Errorf("%s inputs: %w", what, err)
	}
	return in, nil
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

// check reports bad inputs by property, before any plan.
func (in ServerInputs) check(backends map[string]BackendFactory) []plugin.CheckFailure {
	var f []plugin.CheckFailure
	fail := func(k, format string, args ...any) {
		f = append(f, plugin.CheckFailure{Property: resource.PropertyKey(k), Reason: fmt.Sprintf(format, args...)})
	}
	if _, ok := backends[in.Backend]; !ok {
		fail("backend", "%q is not a backend this plugin serves", in.Backend)
	}
	if in.Name == "" {
		fail("name", "required")
	}
	if in.Role != "control-plane" && in.Role != "worker" {
		fail("role", "%q is not control-plane or worker", in.Role)
	}
	switch in.Backend {
	case "static":
		if in.Static == nil || in.Static.Address == "" || in.Static.HostKey == "" {
			fail("static", "address and hostKey are required for a static server")
		}
	case "hetzner":
		if in.Hetzner == nil {
			fail("hetzner", "the API token is required")
		}
	case "local":
		if in.Local == nil {
			fail("local", "bridge and subnet are required")
		}
	}
	return f
}

// diffServer compares old and new inputs: replace keys force a new server
// (deleted first: names are unique at the provider), the rest update in place.
func diffServer(olds, news resource.PropertyMap) (plugin.DiffResult, error) {
	o, err := decodeServer(olds)
	if err != nil {
		return plugin.DiffResult{}, err
	}
	var replace, changed []resource.PropertyKey
	for _, k := range replaceKeys {
		ov, nv := olds[resource.PropertyKey(k)], news[resource.PropertyKey(k)]
		if nv.ContainsUnknowns() || !reflect.DeepEqual(plain(ov), plain(nv)) {
			replace = append(replace, resource.PropertyKey(k))
		}
	}
	n, err := decodeServer(news)
	if err != nil {
		return plugin.DiffResult{}, err
	}
	if !reflect.DeepEqual(o.Labels, n.Labels) && !(len(o.Labels) == 0 && len(n.Labels) == 0) {
		changed = append(changed, "labels")
	}
	for _, k := range []string{"hetzner", "identityFile", "sshPrivateKey"} {
		if !reflect.DeepEqual(plain(olds[resource.PropertyKey(k)]), plain(news[resource.PropertyKey(k)])) {
			changed = append(changed, resource.PropertyKey(k))
		}
	}
	if len(replace) == 0 && len(changed) == 0 {
		return plugin.DiffResult{Changes: plugin.DiffNone}, nil
	}
	return plugin.DiffResult{
		Changes:             plugin.DiffSome,
		ReplaceKeys:         replace,
		ChangedKeys:         slices.Concat(replace, changed),
		DeleteBeforeReplace: len(replace) > 0,
	}, nil
}

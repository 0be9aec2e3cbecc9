package config

import (
	"encoding/json"
	"fmt"
)

// FromEngineEnv reads the configuration the Pulumi engine passes to a program it
// starts (plain `pulumi up`): PULUMI_CONFIG and PULUMI_CONFIG_SECRET_KEYS.
func FromEngineEnv(getenv func(string) string) (Raw, error) {
	r := Raw{Values: map[string]string{}, Secrets: map[string]bool{}}
	if s := getenv("PULUMI_CONFIG"); s != "" {
		if err := json.Unmarshal([]byte(s), &r.Values); err != nil {
			return r, fmt.Errorf("PULUMI_CONFIG from the engine: %w", err)
		}
	}
	if s := getenv("PULUMI_CONFIG_SECRET_KEYS"); s != "" {
		var keys []string
		if err := json.Unmarshal([]byte(s), &keys); err != nil {
			return r, fmt.Errorf("PULUMI_CONFIG_SECRET_KEYS from the engine: %w", err)
		}
		for _, k := range keys {
			r.Secrets[k] = true
		}
	}
	r.AddEnv(getenv)
	return r, nil
}

// AddEnv adds what may come from the environment instead of the stack file:
// HCLOUD_TOKEN (the hcloud CLI's variable) stands in for an unset hetzner:token.
func (r *Raw) AddEnv(getenv func(string) string) {
	if _, ok := r.Values["hetzner:token"]; ok {
		return
	}
	if tok := getenv("HCLOUD_TOKEN"); tok != "" {
		r.Values["hetzner:token"] = tok
		r.Secrets["hetzner:token"] = true
	}
}

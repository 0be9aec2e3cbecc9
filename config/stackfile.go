package config

import (
	"encoding/json"
	"fmt"
	"os"

	"gopkg.in/yaml.v3"
)

// ReadStackFile reads the config section of a Pulumi stack file the way the
// engine hands it to a program: scalars as text, objects and lists as JSON.
// Secure values stay encrypted; they are only marked as secrets.
func ReadStackFile(path string) (Raw, error) {
	r := Raw{Values: map[string]string{}, Secrets: map[string]bool{}}
	data, err := os.ReadFile(path)
	if err != nil {
		return r, fmt.Errorf("stack file: %w", err)
	}
	var file struct {
		Config map[string]any `yaml:"config"`
	}
	if err := yaml.Unmarshal(data, &file); err != nil {
		return r, fmt.Errorf("stack file %s: %w", path, err)
	}
	for key, v := range file.Config {
		if m, ok := v.(map[string]any); ok && len(m) == 1 && m["secure"] != nil {
			r.Values[key] = "[secure]"
			r.Secrets[key] = true
			continue
		}
		switch v := v.(type) {
		case string:
			r.Values[key] = v
		default:
			b, err := json.Marshal(v)
			if err != nil {
				return r, fmt.Errorf("stack file %s: %s: %w", path, key, err)
			}
			r.Values[key] = string(b)
		}
	}
	return r, nil
}

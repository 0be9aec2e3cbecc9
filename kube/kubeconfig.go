package kube

import (
	"bytes"
	"fmt"

	"gopkg.in/yaml.v3"
)

// WithServer returns kubeconfig with every cluster's server set to server
// (https://host:port). kubeadm writes the control plane endpoint the nodes
// use, a private address where they share a private network; the
// kubeconfig meshready hands out is for reaching the cluster from outside.
// Everything else (credentials, comments, order) is kept as it was.
func WithServer(kubeconfig []byte, server string) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(kubeconfig, &doc); err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("kubeconfig: not a YAML mapping")
	}
	clusters := Field(doc.Content[0], "clusters")
	if clusters == nil || clusters.Kind != yaml.SequenceNode || len(clusters.Content) == 0 {
		return nil, fmt.Errorf("kubeconfig: no clusters")
	}
	for _, c := range clusters.Content {
		s := Field(Field(c, "cluster"), "server")
		if s == nil || s.Kind != yaml.ScalarNode {
			return nil, fmt.Errorf("kubeconfig: a cluster without a server")
		}
		s.Value, s.Tag, s.Style = server, "!!str", 0
	}
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	return out.Bytes(), nil
}

// Field is YAML mapping m's value for key, or nil (m nil or not a mapping
// too): for edits of a document that keep everything else as it was.
func Field(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

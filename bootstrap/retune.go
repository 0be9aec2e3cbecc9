package bootstrap

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/meshready/meshready/kube"
)

// EtcdManifest is where kubeadm writes etcd's static pod; the kubelet
// restarts etcd when it changes.
const EtcdManifest = "/etc/kubernetes/manifests/etcd.yaml"

// PatchEtcdManifest sets each of args as a --name=value flag of the etcd
// container's command in kubeadm's static pod manifest, leaving every other
// field as it was (yaml.v3 indents lists its own way, which the kubelet
// does not mind); changed is false when it had them all already, and the
// manifest is then returned untouched.
func PatchEtcdManifest(manifest []byte, args []Arg) (out []byte, changed bool, err error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(manifest, &doc); err != nil {
		return nil, false, fmt.Errorf("etcd manifest: %w", err)
	}
	cmd, err := etcdCommand(&doc)
	if err != nil {
		return nil, false, err
	}
	for _, a := range args {
		flag := "--" + a.Name + "=" + a.Value
		found := false
		for _, item := range cmd.Content {
			if strings.HasPrefix(item.Value, "--"+a.Name+"=") {
				found = true
				if item.Value != flag {
					item.Value, changed = flag, true
				}
			}
		}
		if !found {
			cmd.Content = append(cmd.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: flag})
			changed = true
		}
	}
	if !changed {
		return manifest, false, nil
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, false, err
	}
	return b.Bytes(), true, nil
}

// ManifestFlags reads the --name=value flags of the etcd container's command.
func ManifestFlags(manifest []byte) (map[string]string, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(manifest, &doc); err != nil {
		return nil, fmt.Errorf("etcd manifest: %w", err)
	}
	cmd, err := etcdCommand(&doc)
	if err != nil {
		return nil, err
	}
	flags := map[string]string{}
	for _, item := range cmd.Content {
		if name, value, ok := strings.Cut(strings.TrimPrefix(item.Value, "--"), "="); ok && strings.HasPrefix(item.Value, "--") {
			flags[name] = value
		}
	}
	return flags, nil
}

// etcdCommand is the command list of the container named etcd.
func etcdCommand(doc *yaml.Node) (*yaml.Node, error) {
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, fmt.Errorf("etcd manifest: not one YAML document")
	}
	containers := kube.Field(kube.Field(doc.Content[0], "spec"), "containers")
	if containers == nil || containers.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("etcd manifest: no spec.containers")
	}
	for _, c := range containers.Content {
		if name := kube.Field(c, "name"); name != nil && name.Value == "etcd" {
			if cmd := kube.Field(c, "command"); cmd != nil && cmd.Kind == yaml.SequenceNode {
				return cmd, nil
			}
		}
	}
	return nil, fmt.Errorf("etcd manifest: no container etcd with a command")
}

// RetuneEtcd gives n's etcd member args: its static pod manifest
// rewritten when it differs (the kubelet restarts etcd), then waits until
// etcd runs with them and its member answers again, so a caller rolling
// members one at a time never has two down. It returns the flags n's
// manifest holds afterwards, read back from the node.
//
// dial reaches the cluster's etcd afresh: a client from before the restart
// would wait out gRPC's reconnect backoff (up to two minutes) instead.
func RetuneEtcd(ctx context.Context, log *slog.Logger, n Node, dial func(context.Context) (Etcd, error), args []Arg) (map[string]string, error) {
	out, err := n.Runner.Run(ctx, "cat "+EtcdManifest)
	if err != nil {
		return nil, fmt.Errorf("%s: etcd manifest: %w", n.Name, err)
	}
	patched, changed, err := PatchEtcdManifest(out.Stdout, args)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", n.Name, err)
	}
	if changed {
		log.InfoContext(ctx, "etcd retune", "host", n.Name)
		start := time.Now()
		// Written beside the manifests folder, then moved in: the kubelet
		// would read a half-written file (or the upload's temp) inside it.
		const staged = "/etc/kubernetes/meshready-etcd.yaml"
		if err := n.Runner.Upload(ctx, staged, patched, 0o600); err != nil {
			return nil, fmt.Errorf("%s: etcd retune: %w", n.Name, err)
		}
		script, err := RetuneScript(n.Name, staged, args)
		if err != nil {
			return nil, err
		}
		if _, err := n.Runner.Run(ctx, serialised(StepLock, script)); err != nil {
			return nil, fmt.Errorf("%s: etcd retune: %w", n.Name, err)
		}
		if err := waitMemberHealthy(ctx, dial, n.Name); err != nil {
			return nil, err
		}
		// The API server on n lost its etcd for the restart: the next
		// step (or the user) finds it answering, not reconnecting.
		if err := waitAPIServer(ctx, n, "the etcd retune"); err != nil {
			return nil, err
		}
		log.Debug("etcd retuned", "host", n.Name, "took", time.Since(start).Round(time.Millisecond))
	}
	return ManifestFlags(patched)
}

// waitMemberHealthy polls until name's member answers (at most 3 minutes),
// each time through a new client.
func waitMemberHealthy(ctx context.Context, dial func(context.Context) (Etcd, error), name string) error {
	deadline := time.Now().Add(3 * time.Minute)
	healthy := func() (bool, error) {
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		etcd, err := dial(dctx)
		if err != nil {
			return false, err
		}
		defer etcd.Close()
		members, err := etcd.Members(dctx)
		for _, m := range members {
			if m.Name == name && m.Healthy {
				return true, nil
			}
		}
		return false, err
	}
	for {
		ok, err := healthy()
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: etcd did not answer within 3 minutes of its restart: %v", name, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
}

// RetuneScript moves the staged manifest into place and waits until the
// etcd process runs with every flag of args.
func RetuneScript(node, staged string, args []Arg) (string, error) {
	var flags []string
	for _, a := range args {
		flags = append(flags, "--"+a.Name+"="+a.Value)
	}
	return render("etcd-retune.sh.tmpl", struct {
		Node, Staged, Manifest string
		Flags                  []string
	}{node, staged, EtcdManifest, flags})
}

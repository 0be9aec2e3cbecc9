package stacks

import (
	"fmt"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/meshready/meshready/bundle"
	"github.com/meshready/meshready/config"
	"github.com/meshready/meshready/contract"
	"github.com/meshready/meshready/infra/local"
	"github.com/meshready/meshready/toolchain"
)

// kubeBundle is the air-gapped Kubernetes a local stack's nodes install, as
// they see it (<cache>/bundle mounted read-only at local.BundleMount); nil
// for real nodes. Without one from the caller (plain pulumi up), it is found
// or built in meshready's cache.
func (env Env) kubeBundle(ctx *pulumi.Context, cfg *config.Config) (*contract.Bundle, error) {
	if cfg.Provider != config.ProviderLocal {
		return nil, nil
	}
	b := env.LocalKubernetes
	if b == nil {
		cache, log, err := env.cache()
		if err != nil {
			return nil, err
		}
		if b, err = bundle.Ensure(ctx.Context(), cache, cfg.Kubernetes.Version, log); err != nil {
			return nil, err
		}
	}
	root := filepath.Dir(b.Dir)
	dir, err := onNode(root, b.Dir)
	if err != nil {
		return nil, err
	}
	out := &contract.Bundle{Dir: dir}
	for _, im := range b.Images {
		tarball, err := onNode(root, im.Path)
		if err != nil {
			return nil, err
		}
		out.Images = append(out.Images, contract.Image{Ref: im.Ref, Tarball: tarball})
	}
	return out, nil
}

// flanneld is the flannel daemon the plugin uploads to nodes (every
// provider: it is built here, from the module proxy, for all of them).
func (env Env) flanneld(ctx *pulumi.Context) (bundle.Flanneld, error) {
	if env.Flanneld != nil {
		return *env.Flanneld, nil
	}
	cache, _, err := env.cache()
	if err != nil {
		return bundle.Flanneld{}, err
	}
	return bundle.EnsureFlanneld(ctx.Context(), cache)
}

// onNode is where a local machine sees the file p of the cache's bundle
// folder root.
func onNode(root, p string) (string, error) {
	rel, err := filepath.Rel(root, p)
	if err != nil || strings.HasPrefix(rel, "..") {
		return "", fmt.Errorf("bundle file %s is outside the bundle folder %s", p, root)
	}
	return path.Join(local.BundleMount, filepath.ToSlash(rel)), nil
}

// cache is meshready's tool cache, for a program run without the CLI.
func (env Env) cache() (toolchain.Cache, *slog.Logger, error) {
	dir, err := toolchain.DefaultDir(os.Getenv)
	if err != nil {
		return toolchain.Cache{}, nil, err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	return toolchain.Cache{Dir: dir, ProjectDir: env.ProjectDir, Log: log}, log, nil
}

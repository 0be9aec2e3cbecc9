package bundle

import (
	"archive/tar"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// BinDir is where an image's program lives; PATH names it first.
const BinDir = "/usr/local/bin"

// PathEnv is the images' PATH: BinDir, then where Debian puts iptables and conntrack.
const PathEnv = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// epoch is every layer entry's mtime, so equal inputs make equal layers.
var epoch = time.Unix(0, 0).UTC()

// WriteImage writes the image of spec to out as a docker-archive tarball
// tagged spec.Ref (what `ctr images import` and `docker load` read): the
// static binary at bin in BinDir, on top of the given lower layers (the
// netfilter tools for kube-proxy), for linux/amd64, with bin as entrypoint.
// It writes out.tmp and renames it, so out is either complete or absent.
func WriteImage(spec ImageSpec, bin, out string, lower ...v1.Layer) error {
	top, err := binaryLayer(bin, spec.Binary)
	if err != nil {
		return fmt.Errorf("image %s: %w", spec.Ref, err)
	}
	return writeImage(spec.Ref, append(lower, top), out, func(c *v1.Config) {
		c.Entrypoint = []string{BinDir + "/" + spec.Binary}
		c.User = spec.User
	})
}

// writeImage writes the image of layers (lowest first) tagged ref to out,
// for linux/amd64 with PathEnv, as conf sets the rest of its config.
func writeImage(refName string, layers []v1.Layer, out string, conf func(*v1.Config)) error {
	ref, err := name.NewTag(refName, name.StrictValidation)
	if err != nil {
		return fmt.Errorf("image %s: %w", refName, err)
	}
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		return fmt.Errorf("image %s: %w", refName, err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return fmt.Errorf("image %s: %w", refName, err)
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", "amd64"
	cfg.Config.Env = []string{PathEnv}
	conf(&cfg.Config)
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		return fmt.Errorf("image %s: %w", refName, err)
	}
	tmp := out + ".tmp"
	if err := tarball.WriteToFile(tmp, ref, img); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("image %s: write %s: %w", refName, out, err)
	}
	if err := os.Rename(tmp, out); err != nil {
		return fmt.Errorf("image %s: %w", refName, err)
	}
	return nil
}

// binaryLayer is usr/local/bin/<name> (the file at bin) and a /tmp to write
// in. The tar is produced while go-containerregistry reads it; the gzipped
// form is kept in memory so that a large binary is compressed once.
func binaryLayer(bin, name string) (v1.Layer, error) {
	fi, err := os.Stat(bin)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a file", bin)
	}
	return layer(func(tw *tar.Writer) error {
		for _, d := range []string{"tmp/", "usr/", "usr/local/", "usr/local/bin/"} {
			mode := int64(0o755)
			if d == "tmp/" {
				mode = 0o1777
			}
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: mode, ModTime: epoch}); err != nil {
				return err
			}
		}
		f, err := os.Open(bin)
		if err != nil {
			return err
		}
		defer f.Close()
		h := &tar.Header{Typeflag: tar.TypeReg, Name: "usr/local/bin/" + name, Mode: 0o755, Size: fi.Size(), ModTime: epoch}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		_, err = io.Copy(tw, f)
		return err
	})
}

// treeLayer is the folder root as a layer: folders, files and symlinks, owned
// by root, in lexical order.
func treeLayer(root string) (v1.Layer, error) {
	return layer(func(tw *tar.Writer) error {
		return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || p == root {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			fi, err := d.Info()
			if err != nil {
				return err
			}
			h := &tar.Header{Name: filepath.ToSlash(rel), Mode: tarMode(fi.Mode()), ModTime: epoch}
			switch {
			case d.IsDir():
				h.Typeflag, h.Name = tar.TypeDir, h.Name+"/"
			case d.Type()&fs.ModeSymlink != 0:
				if h.Linkname, err = os.Readlink(p); err != nil {
					return err
				}
				h.Typeflag = tar.TypeSymlink
			case d.Type().IsRegular():
				h.Typeflag, h.Size = tar.TypeReg, fi.Size()
			default:
				return fmt.Errorf("%s: unsupported file type %v", p, d.Type())
			}
			if err := tw.WriteHeader(h); err != nil || h.Typeflag != tar.TypeReg {
				return err
			}
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = io.Copy(tw, f)
			return err
		})
	})
}

// tarMode is a file's permission bits with set-uid, set-gid and sticky
// as tar spells them (/tmp is 1777; a set-uid program keeps its bit).
func tarMode(m fs.FileMode) int64 {
	mode := int64(m.Perm())
	for bit, t := range map[fs.FileMode]int64{fs.ModeSetuid: 0o4000, fs.ModeSetgid: 0o2000, fs.ModeSticky: 0o1000} {
		if m&bit != 0 {
			mode |= t
		}
	}
	return mode
}

// layer makes a layer whose uncompressed tar is what write produces.
func layer(write func(*tar.Writer) error) (v1.Layer, error) {
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		pr, pw := io.Pipe()
		go func() {
			tw := tar.NewWriter(pw)
			err := write(tw)
			if err == nil {
				err = tw.Close()
			}
			pw.CloseWithError(err)
		}()
		return pr, nil
	}, tarball.WithCompressedCaching)
}

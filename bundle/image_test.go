package bundle

import (
	"archive/tar"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

// loadImage reads an image tarball back as ctr or docker would find it: by tag.
func loadImage(t *testing.T, path, ref string) v1.Image {
	t.Helper()
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	img, err := tarball.ImageFromPath(path, &tag)
	if err != nil {
		t.Fatalf("load %s from %s: %v", ref, path, err)
	}
	return img
}

// layerFiles lists a layer's entries as "name mode" (plus "-> target" for links).
func layerFiles(t *testing.T, l v1.Layer) (files []string, contents map[string]string) {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	contents = map[string]string{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files, contents
		}
		if err != nil {
			t.Fatal(err)
		}
		e := fmt.Sprintf("%s %o", h.Name, h.Mode)
		if h.Linkname != "" {
			e += " -> " + h.Linkname
		}
		if h.Uid != 0 || h.Gid != 0 || !h.ModTime.Equal(epoch) {
			t.Errorf("%s: uid %d gid %d mtime %v, want root and the epoch", h.Name, h.Uid, h.Gid, h.ModTime)
		}
		files = append(files, e)
		b, _ := io.ReadAll(tr)
		contents[h.Name] = string(b)
	}
}

func TestWriteImage(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "fake")
	os.WriteFile(bin, []byte("#!/bin/sh\necho fake\n"), 0o600) // the mode in the image is 0755 regardless
	lower := filepath.Join(dir, "lower")
	os.MkdirAll(filepath.Join(lower, "usr", "sbin"), 0o755)
	os.WriteFile(filepath.Join(lower, "usr", "sbin", "tool"), []byte("tool"), 0o755)
	os.Symlink("tool", filepath.Join(lower, "usr", "sbin", "alias"))
	tl, err := treeLayer(lower)
	if err != nil {
		t.Fatal(err)
	}
	spec := ImageSpec{Ref: "registry.k8s.io/fake:v1.2.3", Binary: "fake"}
	out := filepath.Join(dir, spec.FileName())
	if err := WriteImage(spec, bin, out, tl); err != nil {
		t.Fatal(err)
	}
	img := loadImage(t, out, spec.Ref)
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.OS != "linux" || cfg.Architecture != "amd64" {
		t.Errorf("platform %s/%s, want linux/amd64", cfg.OS, cfg.Architecture)
	}
	if want := []string{"/usr/local/bin/fake"}; !reflect.DeepEqual(cfg.Config.Entrypoint, want) {
		t.Errorf("Entrypoint %q, want %q", cfg.Config.Entrypoint, want)
	}
	if len(cfg.Config.Env) != 1 || !strings.HasPrefix(cfg.Config.Env[0], "PATH=/usr/local/sbin:/usr/local/bin:") {
		t.Errorf("Env %q, want PATH with /usr/local/bin", cfg.Config.Env)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 2 {
		t.Fatalf("%d layers (%v), want the lower one and the binary", len(layers), err)
	}
	files, _ := layerFiles(t, layers[0])
	if want := []string{"usr/ 755", "usr/sbin/ 755", "usr/sbin/alias 777 -> tool", "usr/sbin/tool 755"}; !reflect.DeepEqual(files, want) {
		t.Errorf("lower layer %q, want %q", files, want)
	}
	files, contents := layerFiles(t, layers[1])
	want := []string{"tmp/ 1777", "usr/ 755", "usr/local/ 755", "usr/local/bin/ 755", "usr/local/bin/fake 755"}
	if !reflect.DeepEqual(files, want) {
		t.Errorf("binary layer %q, want %q", files, want)
	}
	if contents["usr/local/bin/fake"] != "#!/bin/sh\necho fake\n" {
		t.Errorf("binary in the image differs: %q", contents["usr/local/bin/fake"])
	}
	if _, err := os.Stat(out + ".tmp"); err == nil {
		t.Errorf("temp file left behind")
	}

	// Equal inputs, equal image: a rebuilt bundle does not change what nodes import.
	again := filepath.Join(dir, "again.tar")
	if err := WriteImage(spec, bin, again, tl); err != nil {
		t.Fatal(err)
	}
	d1, _ := img.Digest()
	d2, _ := loadImage(t, again, spec.Ref).Digest()
	if d1 != d2 {
		t.Errorf("image digest %s then %s for the same inputs", d1, d2)
	}
}

func TestWriteImageErrors(t *testing.T) {
	dir := t.TempDir()
	if err := WriteImage(ImageSpec{Ref: "registry.k8s.io/x:1", Binary: "x"}, filepath.Join(dir, "missing"), filepath.Join(dir, "x.tar")); err == nil {
		t.Error("a missing binary made an image")
	}
	if err := WriteImage(ImageSpec{Ref: "Not A Ref", Binary: "x"}, "/bin/true", filepath.Join(dir, "y.tar")); err == nil {
		t.Error("a bad reference made an image")
	}
}

// checkLibraries resolves links inside the tree, never on the host, and names
// what is missing.
func TestCheckLibraries(t *testing.T) {
	host, err := exec.LookPath("true")
	if err != nil {
		t.Skip("no true(1) to use as a dynamic ELF file")
	}
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "usr", "bin"), 0o755)
	data, err := os.ReadFile(host)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(root, "usr", "bin", "true"), data, 0o755)
	// Absolute links, as libc6 has them: on the host they would resolve.
	os.MkdirAll(filepath.Join(root, "lib64"), 0o755)
	os.Symlink("/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", filepath.Join(root, "lib64", "ld-linux-x86-64.so.2"))
	err = checkLibraries(root)
	if err == nil || !strings.Contains(err.Error(), "usr/bin/true needs the loader /lib64/ld-linux-x86-64.so.2") ||
		!strings.Contains(err.Error(), "usr/bin/true needs libc.so.6") {
		t.Fatalf("want the loader and libc missing, got %v", err)
	}
	lib := filepath.Join(root, "usr", "lib", "x86_64-linux-gnu")
	os.MkdirAll(lib, 0o755)
	os.WriteFile(filepath.Join(lib, "ld-linux-x86-64.so.2"), nil, 0o755)
	os.WriteFile(filepath.Join(lib, "libc.so.6"), nil, 0o755)
	os.Symlink("usr/lib", filepath.Join(root, "lib")) // merged /usr
	if err := checkLibraries(root); err != nil {
		t.Errorf("all there, got %v", err)
	}
}

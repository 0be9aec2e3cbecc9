package bundle

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// importWithCtr imports the tarballs the way a local node will
// (`ctr -n k8s.io images import --all-platforms`), into a containerd of the
// test's own: its own root, state, socket and config, stopped at the end, so
// the host's containerd (if any) is never touched.
func importWithCtr(t *testing.T, images []Image) {
	ctr, err1 := exec.LookPath("ctr")
	containerd, err2 := exec.LookPath("containerd")
	if err1 != nil || err2 != nil || os.Geteuid() != 0 {
		t.Log("no ctr/containerd (Debian package containerd) or not root: import not tried")
		return
	}
	dir, err := os.MkdirTemp("", "meshready-containerd-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "containerd.sock")
	// No CRI: this containerd only stores images, it runs nothing.
	conf := "version = 2\ndisabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n" +
		"[grpc]\n  address = \"" + sock + "\"\n[ttrpc]\n  address = \"" + sock + ".ttrpc\"\n" +
		"[debug]\n  address = \"" + sock + ".debug\"\n"
	if err := os.WriteFile(filepath.Join(dir, "config.toml"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	log, _ := os.Create(filepath.Join(dir, "containerd.log"))
	defer log.Close()
	d := exec.Command(containerd, "--config", filepath.Join(dir, "config.toml"),
		"--root", filepath.Join(dir, "root"), "--state", filepath.Join(dir, "state"), "--address", sock)
	d.Stdout, d.Stderr = log, log
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		d.Process.Signal(os.Interrupt)
		done := make(chan error, 1)
		go func() { done <- d.Wait() }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			d.Process.Kill()
			<-done
		}
	}()
	ctrCmd := func(args ...string) (string, error) {
		out, err := exec.Command(ctr, append([]string{"--address", sock, "-n", "k8s.io"}, args...)...).CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if _, err := ctrCmd("version"); err == nil {
			break
		} else if time.Now().After(deadline) {
			logs, _ := os.ReadFile(filepath.Join(dir, "containerd.log"))
			t.Fatalf("containerd did not answer: %v\n%s", err, logs)
		}
	}
	for _, img := range images {
		start := time.Now()
		if out, err := ctrCmd("images", "import", "--all-platforms", img.Path); err != nil {
			t.Errorf("ctr import %s: %v: %s", img.Path, err, out)
		} else {
			t.Logf("ctr import %s: %v", img.Ref, time.Since(start).Round(time.Millisecond))
		}
	}
	list, err := ctrCmd("images", "list", "-q")
	if err != nil {
		t.Fatalf("ctr images list: %v: %s", err, list)
	}
	for _, img := range images {
		if !strings.Contains("\n"+list+"\n", "\n"+img.Ref+"\n") {
			t.Errorf("ctr does not list %s after import:\n%s", img.Ref, list)
		}
	}
}

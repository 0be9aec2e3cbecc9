package plugin

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"

	"github.com/meshready/meshready/contract"
	"github.com/meshready/meshready/infra"
	"github.com/meshready/meshready/remote"
)

// hangingConnector never gets an answer: its probe returns only when cancelled.
type hangingConnector struct{ started chan struct{} }

func (c hangingConnector) Probe(ctx context.Context, _ remote.Target, _ remote.Auth) (Facts, error) {
	close(c.started)
	<-ctx.Done()
	return Facts{}, ctx.Err()
}

func (c hangingConnector) Rotate(context.Context, remote.Target, remote.Auth, remote.HostKeyRotation, infra.HostKeyPair) error {
	return nil
}

// TestOrphanedCancelsWhatRuns: an operation in flight when the engine is gone
// is cancelled, and Orphaned returns as soon as it has, not after the grace.
func TestOrphanedCancelsWhatRuns(t *testing.T) {
	b := &fakeBackend{servers: map[string]infra.Server{}}
	conn := hangingConnector{started: make(chan struct{})}
	p := testProvider(conn, b)
	c := serveProvider(t, p)
	errc := make(chan error, 1)
	go func() {
		_, err := c.Create(context.Background(), &pulumirpc.CreateRequest{Urn: urn, Type: contract.Server().Token, Properties: props(t, inputs("n1"))})
		errc <- err
	}()
	<-conn.started
	start := time.Now()
	p.Orphaned(time.Minute)
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("Orphaned waited %s for a cancelled operation", took)
	}
	select {
	case err := <-errc:
		if err == nil {
			t.Error("the cancelled Create succeeded")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Create still runs after Orphaned")
	}
}

// TestWatchEngineSeesItsParentGo runs this test binary as a plugin would run:
// started by a shell (the engine) that then exits. The child must notice.
func TestWatchEngineSeesItsParentGo(t *testing.T) {
	if out := os.Getenv("MESHREADY_WATCH_ENGINE_OUT"); out != "" {
		watchEngine(os.Getppid(), 50*time.Millisecond, func() {
			os.WriteFile(out, []byte("gone\n"), 0o644)
			os.Exit(0)
		})
		return
	}
	out := filepath.Join(t.TempDir(), "out")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	sh := exec.Command("sh", "-c", `"$0" -test.run='^TestWatchEngineSeesItsParentGo$' & sleep 1`, exe)
	sh.Env = append(os.Environ(), "MESHREADY_WATCH_ENGINE_OUT="+out)
	if err := sh.Run(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if b, err := os.ReadFile(out); err == nil && string(b) == "gone\n" {
			return
		}
	}
	t.Fatal("the child did not notice its parent's end")
}

package cli

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/meshready/meshready/envs"
	"github.com/meshready/meshready/internal/pgtest"
	"github.com/meshready/meshready/internal/sshdtest"
)

// TestPostgresBackendSharedByClones is a team sharing one stack's state in
// a real PostgreSQL (Pulumi's postgres:// DIY backend), from three clones
// of the project: the state lock holds between two clones updating the
// same stack at once (the second is refused with a clear message and the
// first's lock is left alone), two clones create envs side by side, and a
// third one lists them and collects them. A lock another machine holds is
// never removed by meshready: its updates are refused until that machine
// lets go.
func TestPostgresBackendSharedByClones(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL and needs the Pulumi CLI")
	}
	sideSlot(t) // beside the cluster tests (see main_test.go)
	pg := pgtest.Start(t)
	sshd := sshdtest.Start(t)
	env := isolatePulumi(t)
	env["PULUMI_BACKEND_URL"] = pg.URL
	env["PULUMI_CONFIG_PASSPHRASE"] = "the team's passphrase"
	benchDir := t.TempDir()
	clone := func() string { return newProject(t, map[string]string{"team": itStack(sshd, benchDir)}) }
	a, b, c := clone(), clone(), clone()
	t.Cleanup(func() {
		pg.TryQuery(`DELETE FROM pulumi_state WHERE key LIKE '%/locks/%'`)
		for _, n := range []string{"pg-a", "pg-b"} {
			runCLI(t, env, "--project-dir", c, "env", "destroy", "--name", n)
		}
		runCLI(t, env, "--project-dir", c, "destroy", "--stack", "team", "--yes")
	})
	locks := func() []string { // none before Pulumi made its table
		rows, _ := pg.TryQuery(`SELECT key FROM pulumi_state WHERE key LIKE '%/locks/%/team/%' ORDER BY key`)
		return rows
	}

	// Two clones update the same stack: the second, while the first holds
	// the lock, is refused and says why; the first's lock stays. The stack
	// is made first (by a preview, which takes no lock): making it takes a
	// lock of its own, for a moment, that the up's would then replace.
	if r := runCLI(t, env, "--project-dir", a, "preview", "--stack", "team"); r.code != ExitOK {
		t.Fatalf("preview from the first clone: exit %d\n%s", r.code, tailLines(r.stderr, 15))
	}
	if held := locks(); len(held) > 0 {
		t.Fatalf("locks left by a preview: %v", held)
	}
	first := startCLI(t, env, a, "up", "--stack", "team", "--yes")
	var held []string
	first.waitUntil(t, "the first up taking the state lock", 3*time.Minute, func() bool {
		held = locks()
		return len(held) > 0
	})
	r := runCLI(t, env, "--project-dir", b, "up", "--stack", "team", "--yes")
	if r.code != ExitFailed || !strings.Contains(r.stderr, "another update holds the stack's lock") {
		t.Errorf("up from a second clone during the first: exit %d; want 1, refused as locked\n%s", r.code, tailLines(r.stderr, 15))
	}
	if now := locks(); fmt.Sprint(now) != fmt.Sprint(held) && first.running() {
		t.Errorf("the first clone's lock changed while it ran: %v, then %v", held, now)
	}
	if code := first.wait(t, 5*time.Minute); code != 0 {
		t.Fatalf("up from the first clone: exit %d\n%s", code, tailLines(first.out.String(), 30))
	}
	if left := locks(); len(left) > 0 {
		t.Errorf("locks left after the first up: %v", left)
	}
	r = runCLI(t, env, "--project-dir", b, "up", "--stack", "team", "--yes")
	if r.code != ExitOK || !strings.Contains(r.stdout, "unchanged") || changes.MatchString(r.stdout) {
		t.Errorf("up from the second clone after the first: exit %d, want no change\n%s\n%s", r.code, r.stdout, tailLines(r.stderr, 15))
	}

	// Two clones create an env each at once; a third sees both and, once
	// they expired, collects both.
	ea := startCLI(t, env, a, "env", "create", "--name", "pg-a", "--from", "team", "--ttl", "1m")
	eb := startCLI(t, env, b, "env", "create", "--name", "pg-b", "--from", "team", "--ttl", "1m")
	for name, p := range map[string]*cliProc{"pg-a": ea, "pg-b": eb} {
		if code := p.wait(t, 10*time.Minute); code != 0 {
			t.Fatalf("env create %s: exit %d\n%s", name, code, tailLines(p.out.String(), 30))
		}
	}
	r = runCLI(t, env, "--project-dir", c, "env", "list", "--json")
	var listed []envs.Env
	if err := json.Unmarshal([]byte(r.stdout), &listed); err != nil || len(listed) != 2 {
		t.Fatalf("env list from a third clone: exit %d %v: %s", r.code, err, r.stdout)
	}
	for _, e := range listed {
		if e.Base != "team" || (e.Name != "pg-a" && e.Name != "pg-b") {
			t.Errorf("listed %+v", e)
		}
		if d := time.Until(e.Expires); d > 0 {
			time.Sleep(d + time.Second)
		}
	}
	r = runCLI(t, env, "--project-dir", c, "env", "gc", "--json")
	var gc envs.GCResult
	if err := json.Unmarshal([]byte(r.stdout), &gc); err != nil || r.code != ExitOK || len(gc.Destroyed) != 2 {
		t.Fatalf("env gc from a third clone: exit %d %v %s\n%s", r.code, err, r.stdout, tailLines(r.stderr, 20))
	}
	if r := runCLI(t, env, "--project-dir", a, "env", "list", "--json"); strings.TrimSpace(r.stdout) != "[]" {
		t.Errorf("env list after gc: %s", r.stdout)
	}

	// Another machine's lock (a CI runner mid-update, an hour old): every
	// clone's update is refused, and the lock is still there after.
	foreign := path.Join(path.Dir(held[0]), "5d1f0c3a-9b7e-4c2a-8f00-0123456789ab.json")
	lock := fmt.Sprintf(`{"pid":4242,"username":"ci","hostname":"build-runner-7","timestamp":%q}`, time.Now().Add(-time.Hour).UTC().Format(time.RFC3339))
	// A row as Pulumi's postgres backend writes one: the file base64 in JSON.
	pg.Query(t, fmt.Sprintf(`INSERT INTO pulumi_state (key, data) VALUES ('%s', '{"data": "%s"}')`,
		foreign, base64.StdEncoding.EncodeToString([]byte(lock))))
	for _, verb := range []string{"up", "destroy"} {
		r = runCLI(t, env, "--project-dir", c, verb, "--stack", "team", "--yes")
		if r.code != ExitFailed || !strings.Contains(r.stderr, "another update holds the stack's lock") {
			t.Errorf("%s with another machine's lock: exit %d; want 1, refused as locked\n%s", verb, r.code, tailLines(r.stderr, 15))
		}
	}
	if got := locks(); len(got) != 1 || got[0] != foreign {
		t.Errorf("another machine's lock was touched: %v", got)
	}
	pg.Query(t, fmt.Sprintf(`DELETE FROM pulumi_state WHERE key = '%s'`, foreign)) // that machine's update ended
	if r = runCLI(t, env, "--project-dir", c, "destroy", "--stack", "team", "--yes"); r.code != ExitOK {
		t.Errorf("destroy once the lock was let go: exit %d\n%s", r.code, tailLines(r.stderr, 15))
	}
}

package benchmarks

import (
	"embed"
	"fmt"
	"time"

	"github.com/meshready/meshready/internal/script"
)

// The remote side of each benchmark is a POSIX shell script, rendered by a
// pure function and checked against golden files: nodes need nothing but
// coreutils, util-linux and fio, and a reviewer reads exactly what runs.
//
//go:embed scripts/*.tmpl
var scriptFS embed.FS

func render(name string, data any) (string, error) {
	return script.Render(scriptFS, "scripts/*.tmpl", name, data)
}

// FactsScript prints key=value facts about the disk under dir and the CPU's virtualisation.
func FactsScript(dir string) (string, error) {
	return render("facts.sh.tmpl", struct{ Dir string }{dir})
}

// FioScript runs one fio job ("etcd-wal" or "randread") in a scratch folder under dir
// and prints fio's JSON; the folder is removed on exit, so re-runs leave nothing behind.
func FioScript(dir, job string, runtime time.Duration) (string, error) {
	if job != "etcd-wal" && job != "randread" {
		return "", fmt.Errorf("unknown fio job %q", job)
	}
	return render("fio.sh.tmpl", struct {
		Dir, Job       string
		RuntimeSeconds int
	}{dir, job, int(runtime.Seconds())})
}

// StealScript samples /proc/stat idle and then under load on every CPU, in the
// line format ParseStealStream reads.
func StealScript(idle, loaded time.Duration) (string, error) {
	return render("steal.sh.tmpl", struct{ IdleSeconds, LoadedSeconds int }{int(idle.Seconds()), int(loaded.Seconds())})
}

package local

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// A /proc of four processes: a kubelet of machine mr-a (cgroup v2), a
// containerd of mr-b (cgroup v1 lines), a host daemon of root and a
// user's editor; the inotify descriptors among their others.
func TestReadInotifyUse(t *testing.T) {
	proc := t.TempDir()
	proc1 := func(pid int, uid, cgroup string, fds ...string) {
		dir := filepath.Join(proc, strconv.Itoa(pid))
		must(t, os.MkdirAll(filepath.Join(dir, "fd"), 0o755))
		must(t, os.WriteFile(filepath.Join(dir, "status"), []byte("Name:\tx\nUid:\t"+uid+"\t"+uid+"\t"+uid+"\t"+uid+"\n"), 0o644))
		must(t, os.WriteFile(filepath.Join(dir, "cgroup"), []byte(cgroup), 0o644))
		for i, target := range fds {
			must(t, os.Symlink(target, filepath.Join(dir, "fd", strconv.Itoa(i))))
		}
	}
	ino := "anon_inode:inotify"
	proc1(101, "0", "0::/meshready/mr-a/system.slice/kubelet.service\n", ino, ino, "socket:[1]", ino)
	proc1(102, "0", "12:memory:/meshready/mr-b/system.slice/containerd.service\n0::/meshready/mr-b/system.slice\n", ino, "/dev/null")
	proc1(103, "0", "0::/system.slice/udevd.service\n", ino, "anon_inode:[eventpoll]")
	proc1(104, "1000", "0::/user.slice\n", ino, ino)
	must(t, os.MkdirAll(filepath.Join(proc, "self"), 0o755))
	must(t, os.WriteFile(filepath.Join(proc, "meminfo"), nil, 0o644))

	u, err := readInotifyUse(proc)
	if err != nil {
		t.Fatal(err)
	}
	if u.Host != 1 || len(u.Machines) != 2 || u.Machines["mr-a"] != 3 || u.Machines["mr-b"] != 1 {
		t.Errorf("got %+v, want host 1, mr-a 3, mr-b 1 (the user's 2 are not root's)", u)
	}
}

func TestCheckInotify(t *testing.T) {
	u := inotifyUse{Host: 10, Machines: map[string]int{"mr-a": 30, "mr-other-cache": 25}}
	// Recorded mr-a and mr-b (still booting): 10 + 25 + 3 shares.
	need := 35 + 3*inotifyPerMachine
	if err := checkInotify(need, u, []string{"mr-a", "mr-b"}); err != nil {
		t.Errorf("exactly enough: %v", err)
	}
	err := checkInotify(need-1, u, []string{"mr-a", "mr-b"})
	if err == nil {
		t.Fatal("one short: accepted")
	}
	for _, want := range []string{
		"fs/inotify/max_user_instances is " + strconv.Itoa(need-1),
		"2 local machines and this one need about " + strconv.Itoa(need),
		"35 held by other root processes",
		"sysctl -w fs.inotify.max_user_instances=" + strconv.Itoa(roundUp(2*need, 128)),
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// This host's own /proc reads.
func TestReadInotifyUseHere(t *testing.T) {
	if _, err := readInotifyUse("/proc"); err != nil {
		t.Fatal(err)
	}
}

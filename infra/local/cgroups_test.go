package local

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// The last machine of one backend cleans up what was added since its first
// one, but never another backend's machine cgroup under meshready/ (made
// before nspawn joins it, so still empty): that raced a machine starting
// in a second process.
func TestCleanCgroupsLeavesOtherMachines(t *testing.T) {
	dir, h := t.TempDir(), t.TempDir()
	for _, d := range []string{"host.slice", "meshready/mr-other-cp-1", "stray/child"} {
		if err := os.MkdirAll(filepath.Join(h, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.MkdirAll(filepath.Join(h, "empty-new"), 0o755)
	snap, _ := json.Marshal(map[string][]string{h: {"host.slice"}})
	if err := os.WriteFile(filepath.Join(dir, cgroupsBefore), snap, 0o644); err != nil {
		t.Fatal(err)
	}
	cleanCgroups(dir)
	for d, want := range map[string]bool{
		"host.slice": true, "meshready/mr-other-cp-1": true, // before, and another's machine
		"stray": false, "empty-new": false, // added since, empty
	} {
		if _, err := os.Stat(filepath.Join(h, d)); (err == nil) != want {
			t.Errorf("%s: exists=%v, want %v", d, err == nil, want)
		}
	}
	// With the other machine gone, meshready/ goes too.
	os.Remove(filepath.Join(h, "meshready/mr-other-cp-1"))
	os.WriteFile(filepath.Join(dir, cgroupsBefore), snap, 0o644)
	cleanCgroups(dir)
	if _, err := os.Stat(filepath.Join(h, "meshready")); err == nil {
		t.Error("an empty meshready/ was left")
	}
}

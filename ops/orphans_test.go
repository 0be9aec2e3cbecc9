package ops

import (
	"strings"
	"testing"
)

// What gc --orphans deletes: only what carries this backend's label and
// belongs to no stack in it. A thing of a live stack is not listed; one of
// another backend, or unlabelled and of no stack here, is kept with why.
func TestJudgeOrphans(t *testing.T) {
	const me, other = "aaaa000011112222", "bbbb000011112222"
	things := []Thing{
		{Where: "local", Kind: "machine", ID: "mr-e2e-cp-1", Stack: "e2e", Owner: me},   // live
		{Where: "local", Kind: "machine", ID: "mr-local-cp-1", Stack: "local"},          // live, made before labels
		{Where: "local", Kind: "machine", ID: "mr-pr-9-cp-1", Stack: "pr-9", Owner: me}, // orphan
		{Where: "hetzner", Kind: "network", ID: "41", Stack: "pr-9", Owner: me},         // orphan
		{Where: "local", Kind: "machine", ID: "mr-d2-cp-1", Stack: "d2", Owner: other},  // another checkout's
		{Where: "hetzner", Kind: "server", ID: "7", Stack: "e2e", Owner: other},         // same stack name, another backend
		{Where: "hetzner", Kind: "server", ID: "8", Stack: "gone"},                      // unlabelled, no stack here
	}
	orphans, kept := JudgeOrphans(things, me, []string{"e2e", "local", "hel1"})
	var got []string
	for _, o := range orphans {
		got = append(got, o.ID)
	}
	if strings.Join(got, " ") != "mr-pr-9-cp-1 41" {
		t.Errorf("orphans %v", got)
	}
	why := map[string]string{}
	for _, k := range kept {
		why[k.ID] = k.Why
	}
	if len(kept) != 3 || !strings.Contains(why["mr-d2-cp-1"], "another backend's") || !strings.Contains(why["7"], other) ||
		!strings.Contains(why["8"], "not labelled with a backend") {
		t.Errorf("kept %+v", kept)
	}
}

// An empty owner (no backend to judge for) makes nothing an orphan, not
// even what carries no backend label.
func TestJudgeOrphansWithoutOwner(t *testing.T) {
	things := []Thing{{Where: "local", Kind: "machine", ID: "mr-x-cp-1", Stack: "x"}}
	if orphans, _ := JudgeOrphans(things, "", nil); len(orphans) != 0 {
		t.Errorf("orphans without an owner: %+v", orphans)
	}
}

// keep moves what has a reason out of the orphans, with it.
func TestKeepMovesOrphansWithAReason(t *testing.T) {
	orphans := []Thing{{ID: "1", Stack: "a"}, {ID: "2", Stack: "b"}}
	var kept []Thing
	left := keep(orphans, &kept, func(t Thing) string {
		if t.Stack == "b" {
			return "its stack came back"
		}
		return ""
	})
	if len(left) != 1 || left[0].ID != "1" || len(kept) != 1 || kept[0].ID != "2" || kept[0].Why != "its stack came back" {
		t.Errorf("left %+v, kept %+v", left, kept)
	}
}

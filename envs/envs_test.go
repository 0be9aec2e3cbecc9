package envs

import (
	"context"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/meshready/meshready/internal/golden"
)

func TestCheckName(t *testing.T) {
	regions := []string{"local", "hel1"}
	for _, ok := range []string{"pr-1", "nightly", "a", "pr-12345-run-2"} {
		if err := CheckName(ok, regions); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for bad, want := range map[string]string{
		"":                            "required",
		"PR-1":                        "lowercase",
		"1pr":                         "starting with a letter",
		"pr_1":                        "lowercase",
		"pr-":                         "lowercase",
		"pr--1":                       "single dashes",
		"pr.1":                        "lowercase",
		"local":                       "region stack",
		"a-very-long-name-for-an-env": "longer than 24",
	} {
		if err := CheckName(bad, regions); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want an error with %q", bad, err, want)
		}
	}
}

func TestParseTTL(t *testing.T) {
	for in, want := range map[string]time.Duration{"1m": time.Minute, "4h": 4 * time.Hour, "1h30m": 90 * time.Minute, "2d": 48 * time.Hour, "30d": MaxTTL} {
		if got, err := ParseTTL(in); err != nil || got != want {
			t.Errorf("ParseTTL(%q) = %s, %v; want %s", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "0", "-1h", "4", "31d", "1.5d", "d", "2dd", "1h2d", "forever"} {
		if got, err := ParseTTL(bad); err == nil {
			t.Errorf("ParseTTL(%q) = %s, want an error", bad, got)
		}
	}
}

func TestMetaTagsRoundTripAndRerunsKeepTheCreation(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	m := NewMeta("pr-1", "local", "ci@runner", 4*time.Hour, t0.Add(500*time.Millisecond), nil)
	if !m.Created.Equal(t0) || !m.Expires.Equal(t0.Add(4*time.Hour)) {
		t.Fatalf("meta %+v", m)
	}
	back, ok := FromTags("pr-1", m.Tags())
	if !ok || !reflect.DeepEqual(back, m) {
		t.Errorf("round trip: %+v, want %+v", back, m)
	}
	// A re-run an hour later with a new TTL: the creation (and creator) stay,
	// the expiry counts from the creation.
	again := NewMeta("pr-1", "local", "someone-else", time.Hour, t0.Add(time.Hour), &back)
	if !again.Created.Equal(t0) || again.Creator != "ci@runner" || !again.Expires.Equal(t0.Add(time.Hour)) {
		t.Errorf("re-run meta %+v", again)
	}
	if _, ok := FromTags("local", map[string]string{"pulumi:project": "meshready"}); ok {
		t.Error("a region stack read as an env")
	}
	// A mangled expiry is read as expired, never as "keep forever".
	tags := m.Tags()
	tags[TagExpires] = "soon"
	if bad, _ := FromTags("pr-1", tags); !bad.Expires.Equal(t0) {
		t.Errorf("mangled expiry read as %s", bad.Expires)
	}
}

func TestStatusOf(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	m := Meta{Created: t0, Expires: t0.Add(time.Hour)}
	for _, c := range []struct {
		o    Observed
		at   time.Time
		want string
	}{
		{Observed{LastResult: "succeeded", LastKind: "update"}, t0, StatusReady},
		{Observed{LastResult: "failed", LastKind: "update"}, t0, StatusFailed},
		{Observed{LastResult: "succeeded", LastKind: "destroy"}, t0, StatusFailed},
		{Observed{UpdateInProgress: true}, t0, StatusUpdating},
		{Observed{}, t0, StatusNew},
		{Observed{LastResult: "succeeded", LastKind: "update"}, t0.Add(time.Hour), StatusExpired},
		{Observed{UpdateInProgress: true}, t0.Add(2 * time.Hour), StatusExpired},
	} {
		if got := StatusOf(m, c.o, c.at); got != c.want {
			t.Errorf("StatusOf(%+v at +%s) = %s, want %s", c.o, c.at.Sub(t0), got, c.want)
		}
	}
}

func TestStackFileGolden(t *testing.T) {
	base, err := os.ReadFile("testdata/base.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var sets []Set
	for _, s := range []string{"benchmarks.enabled=false", "nodes.workers=1", "meshready:istio.injectNamespaces=[demo, shop]", "benchmarks.enabled=true", "region=pr"} {
		set, err := ParseSet(s)
		if err != nil {
			t.Fatal(err)
		}
		sets = append(sets, set)
	}
	unset, _ := ParseSet("kubernetes.kubeconfigFile=")
	d, err := StackFile("pr-1", "local", base, sets, []Set{unset})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(d.Secrets, []string{"meshready:hetzner"}) {
		t.Errorf("secrets = %v", d.Secrets)
	}
	if strings.Contains(string(d.File), "secure") || strings.Contains(string(d.File), "encryptionsalt") {
		t.Errorf("the base's ciphertext or salt leaked into the env's file")
	}
	golden.Check(t, "testdata/pr-1.yaml", d.File)

	// Setting inside a secret, or through a scalar, is refused with the key named.
	for set, want := range map[string]string{"hetzner.token=x": "holds a secret", "region.x=1": "meshready:region is not a map", "nodes.workers.x=1": "meshready:nodes.workers is not a map"} {
		s, err := ParseSet(set)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := StackFile("pr-1", "local", base, []Set{s}, nil); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("--set %s: %v, want %q", set, err, want)
		}
	}
}

func TestParseSet(t *testing.T) {
	for in, want := range map[string]Set{
		"nodes.workers=1":           {Key: "meshready:nodes", Path: []string{"workers"}, Value: 1},
		"meshready:region=oslo":     {Key: "meshready:region", Path: []string{}, Value: "oslo"},
		"benchmarks.gate=false":     {Key: "meshready:benchmarks", Path: []string{"gate"}, Value: false},
		`kubernetes.version="1.34"`: {Key: "meshready:kubernetes", Path: []string{"version"}, Value: "1.34"},
		"region=":                   {Key: "meshready:region", Path: []string{}, Value: ""},
	} {
		got, err := ParseSet(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("ParseSet(%q) = %#v, %v; want %#v", in, got, err, want)
		}
	}
	for _, bad := range []string{"novalue", "=1", "a..b=1", "a=[unclosed"} {
		if _, err := ParseSet(bad); err == nil {
			t.Errorf("ParseSet(%q) accepted", bad)
		}
	}
}

// fakeStore destroys in memory; destroying a name in fail fails.
type fakeStore struct {
	envs      []Env
	fail      map[string]bool
	destroyed []string
}

func (f *fakeStore) List(context.Context) ([]Env, error) { return f.envs, nil }
func (f *fakeStore) Destroy(_ context.Context, name string) error {
	if f.fail[name] {
		return errors.New("destroy " + name + ": node did not answer")
	}
	f.destroyed = append(f.destroyed, name)
	return nil
}

func TestGCGoesOnPastFailures(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	env := func(name string, expires time.Duration) Env {
		return Env{Meta: Meta{Name: name, Created: t0, Expires: t0.Add(expires)}}
	}
	s := &fakeStore{
		envs: []Env{env("pr-3", time.Minute), env("pr-1", time.Minute), env("pr-2", time.Minute), env("fresh", 2*time.Hour), env("edge", time.Hour)},
		fail: map[string]bool{"pr-2": true},
	}
	now := t0.Add(time.Hour) // edge expires exactly now: expired
	dry, err := GC(context.Background(), s, now, true, nil)
	if err != nil || len(s.destroyed) != 0 || !reflect.DeepEqual(dry.Destroyed, []string{"edge", "pr-1", "pr-2", "pr-3"}) {
		t.Fatalf("dry run: %+v %v, destroyed %v", dry, err, s.destroyed)
	}
	var seen []string
	res, err := GC(context.Background(), s, now, false, func(name string, err error) { seen = append(seen, name) })
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(res.Destroyed, []string{"edge", "pr-1", "pr-3"}) || !reflect.DeepEqual(res.Kept, []string{"fresh"}) ||
		len(res.Failed) != 1 || !strings.Contains(res.Failed["pr-2"], "node did not answer") {
		t.Errorf("gc: %+v", res)
	}
	if len(seen) != 4 {
		t.Errorf("progress for %v, want every expired env", seen)
	}
}

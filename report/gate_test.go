package report

import (
	"strings"
	"testing"

	"github.com/meshready/meshready/benchmarks"
)

func TestGate(t *testing.T) {
	claims := func(etcd, steal, nvme benchmarks.Verdict) Report {
		return Report{Claims: []Claim{
			{ID: IDDiskEtcd, Node: "cp-1", Verdict: etcd, Measured: "p99 14.8 ms", Threshold: "fdatasync p99 < 10 ms"},
			{ID: IDCPUSteal, Node: "cp-1", Verdict: steal, Measured: "mean 3.1 %"},
			{ID: IDDiskNVMe, Node: "cp-1", Verdict: nvme},
		}}
	}
	if err := Gate(claims(benchmarks.Pass, benchmarks.Warn, benchmarks.Fail)); err != nil {
		t.Errorf("a slow random read alone must not stop bootstrap: %v", err)
	}
	if err := Gate(claims(benchmarks.NotMeasurable, benchmarks.NotMeasurable, benchmarks.Pass)); err != nil {
		t.Errorf("not measurable passes the gate: %v", err)
	}
	err := Gate(claims(benchmarks.Fail, benchmarks.Fail, benchmarks.Pass))
	if !IsGate(err) || !strings.Contains(err.Error(), "disk-etcd on cp-1: p99 14.8 ms") || !strings.Contains(err.Error(), "cpu-steal on cp-1") {
		t.Errorf("gate error = %v", err)
	}
}

func TestEtcdTuningIsShownAndRoundTrips(t *testing.T) {
	r := Report{Schema: Schema, Region: "r", Etcd: []EtcdFlag{{"heartbeat-interval", "150", "1.5 x peer RTT p99 100ms"}}}
	md := string(Markdown(r))
	if !strings.Contains(md, "## etcd tuning") || !strings.Contains(md, "--heartbeat-interval") || !strings.Contains(md, "1.5 x peer RTT") {
		t.Errorf("markdown lacks the etcd table:\n%s", md)
	}
	html, err := HTML(r)
	if err != nil || !strings.Contains(string(html), "etcd tuning") {
		t.Errorf("html lacks the etcd table: %v", err)
	}
	dir := t.TempDir()
	if err := Write(dir, r); err != nil {
		t.Fatal(err)
	}
	back, err := Read(dir)
	if err != nil || len(back.Etcd) != 1 || back.Etcd[0] != r.Etcd[0] {
		t.Errorf("read back %+v, %v", back.Etcd, err)
	}
}

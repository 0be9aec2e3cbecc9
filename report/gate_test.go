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

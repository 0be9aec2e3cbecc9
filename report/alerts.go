package report

import (
	"fmt"
	"strconv"

	"gopkg.in/yaml.v3"

	"github.com/meshready/meshready/config"
)

// The claims hold at up and may stop holding later (a noisy neighbour
// arrives). AlertRules are Prometheus alerting rules that watch the same
// claims with the same thresholds as the report: one source for both
// (config.Thresholds, filled as Evaluate fills them, and the report's own
// convergence bound). Prometheus loads them (the local stack's addon);
// promtool tests them (alerts_test.go).

// AlertGroup is the name of meshready's rule group.
const AlertGroup = "meshready-claims"

type ruleFile struct {
	Groups []ruleGroup `yaml:"groups"`
}

type ruleGroup struct {
	Name  string `yaml:"name"`
	Rules []rule `yaml:"rules"`
}

type rule struct {
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

// AlertRules renders the rules for th (zero limits take their defaults,
// as in the report).
func AlertRules(th config.Thresholds) ([]byte, error) {
	th, _ = fillThresholds(th)
	seconds := func(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
	rules := []rule{
		{
			// node_exporter's per-CPU steal counter, as the benchmark's /proc/stat.
			Alert: "MeshreadyCPUSteal",
			Expr: fmt.Sprintf(`100 * avg by (instance) (rate(node_cpu_seconds_total{mode="steal"}[5m])) > %s`,
				seconds(th.StealMeanPercent)),
			For:    "10m",
			Labels: map[string]string{"severity": "warning", "claim": IDCPUSteal},
			Annotations: map[string]string{
				"summary":     "CPU steal on {{ $labels.instance }} is {{ $value | printf \"%.2f\" }} %",
				"description": fmt.Sprintf("Mean steal above %s %% for 10 minutes: the %s claim no longer holds (threshold: %s).", seconds(th.StealMeanPercent), IDCPUSteal, srcSteal),
			},
		},
		{
			// etcd's own WAL fsync histogram, what the fio test stands in for.
			Alert: "MeshreadyEtcdWALFsyncSlow",
			Expr: fmt.Sprintf(`histogram_quantile(0.99, sum by (instance, le) (rate(etcd_disk_wal_fsync_duration_seconds_bucket[5m]))) > %s`,
				seconds(th.FdatasyncP99.D().Seconds())),
			For:    "10m",
			Labels: map[string]string{"severity": "critical", "claim": IDDiskEtcd},
			Annotations: map[string]string{
				"summary":     "etcd WAL fsync p99 on {{ $labels.instance }} is {{ $value | humanizeDuration }}",
				"description": fmt.Sprintf("WAL fsync p99 above %s for 10 minutes: the %s claim no longer holds (threshold: %s).", th.FdatasyncP99, IDDiskEtcd, srcEtcd),
			},
		},
		{
			// istiod's push-to-ack histogram, the report's T_conv seen from istiod.
			Alert: "MeshreadyMeshConvergenceSlow",
			Expr: fmt.Sprintf(`histogram_quantile(0.99, sum by (le) (rate(pilot_proxy_convergence_time_bucket[5m]))) > %s`,
				seconds(convergePass.Seconds())),
			For:    "10m",
			Labels: map[string]string{"severity": "warning", "claim": IDMeshConvergence},
			Annotations: map[string]string{
				"summary":     "mesh convergence p99 is {{ $value | humanizeDuration }}",
				"description": fmt.Sprintf("istiod's convergence p99 above %s for 10 minutes: the %s claim no longer holds (threshold: %s).", secs(convergePass), IDMeshConvergence, srcConvergence),
			},
		},
	}
	return yaml.Marshal(ruleFile{Groups: []ruleGroup{{Name: AlertGroup, Rules: rules}}})
}

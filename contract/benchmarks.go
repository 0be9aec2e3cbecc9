package contract

import "github.com/pulumi/pulumi/sdk/v3/go/pulumi"

// Suite is the benchmark run of a stack's nodes: disk, CPU steal and RTT
// measured once and kept in state. A node that joins is measured alone
// (with its RTTs), in place; a node that leaves leaves the run; all are
// measured again only when how they are measured changes. Its outputs are the run's whole report; the
// program judges the hardware gate on it and assembles the region report.
func Suite() Def[SuiteInputs, SuiteOutputs] {
	return Def[SuiteInputs, SuiteOutputs]{
		Token: "meshready:benchmarks:Suite",
		Diff: Policy{
			Replace: []string{"stack", "region", "provider", "dir", "diskRuntime", "stealIdle", "stealLoaded", "thresholds"},
			Update:  []string{"nodes", "gate"},
			Ignore:  ignoreAccess(),
		},
		SecretInputs: []string{"sshPrivateKey"},
	}
}

// SuiteInputs are a benchmark run's inputs.
type SuiteInputs struct {
	Stack    string    `json:"stack"`
	Region   string    `json:"region"`
	Provider string    `json:"provider"`
	Nodes    []NodeRef `json:"nodes"`
	Access
	Dir         string     `json:"dir"`
	DiskRuntime string     `json:"diskRuntime"`
	StealIdle   string     `json:"stealIdle"`
	StealLoaded string     `json:"stealLoaded"`
	Thresholds  Thresholds `json:"thresholds"`
	// Gate: a run that fails the hardware gate stops up before Kubernetes
	// (the program decides, from GateFailure), and is measured again next up.
	Gate bool `json:"gate"`
}

// Thresholds are the limits a run is judged by.
type Thresholds struct {
	FdatasyncP99     string  `json:"fdatasyncP99"`
	ReadP99          string  `json:"readP99"`
	StealMeanPercent float64 `json:"stealMeanPercent"`
	StealMaxPercent  float64 `json:"stealMaxPercent"`
}

// SuiteArgs are SuiteInputs as the program gives them.
type SuiteArgs struct {
	Stack, Region, Provider string
	Nodes                   NodeRefsInput
	Access                  AccessArgs
	Dir                     string
	DiskRuntime             string
	StealIdle               string
	StealLoaded             string
	Thresholds              Thresholds
	Gate                    bool
}

// SuiteOutputs are the run's inputs and what it found.
type SuiteOutputs struct {
	SuiteInputs
	// Claims are each claim's verdict, for the benchmarks output.
	Claims []ClaimSummary `json:"claims"`
	// Report is the run's region report (report.Report as JSON values).
	Report    map[string]any `json:"report,omitempty"`
	Generated string         `json:"generated"`
	// PeerRTTP99Ms and FdatasyncP99Ms are what etcd is tuned from.
	PeerRTTP99Ms   float64 `json:"peerRttP99Ms"`
	FdatasyncP99Ms float64 `json:"fdatasyncP99Ms"`
	// GateFailure says why the run fails the hardware gate ("" = it passes).
	GateFailure string `json:"gateFailure,omitempty"`
	// GateFailures says, node by node, why each failing node fails it.
	GateFailures map[string]string `json:"gateFailures,omitempty"`
}

// ClaimSummary is one claim's verdict.
type ClaimSummary struct {
	ID       string `json:"id"`
	Node     string `json:"node"`
	Verdict  string `json:"verdict"`
	Measured string `json:"measured"`
}

// SuiteResource is a registered benchmark run.
type SuiteResource struct {
	pulumi.CustomResourceState

	Claims         pulumi.ArrayOutput     `pulumi:"claims"`
	Report         pulumi.MapOutput       `pulumi:"report"`
	PeerRTTP99Ms   pulumi.Float64Output   `pulumi:"peerRttP99Ms"`
	FdatasyncP99Ms pulumi.Float64Output   `pulumi:"fdatasyncP99Ms"`
	GateFailure    pulumi.StringOutput    `pulumi:"gateFailure"`
	GateFailures   pulumi.StringMapOutput `pulumi:"gateFailures"`
}

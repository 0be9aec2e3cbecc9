package bootstrap

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/meshready/meshready/config"
)

const ms = time.Millisecond

func set[T any](v T) config.Auto[T] { return config.Auto[T]{Value: v, Set: true} }

func dur(d time.Duration) config.Auto[config.Duration] { return set(config.Duration(d)) }

// want is the part of EtcdTuning a case pins; the constant fields are checked once per case too.
type want struct {
	hb, et     time.Duration
	snap       int
	quota      int64
	mode, ret  string
	ionice     bool
	whyHB      string // substring of Why["heartbeat-interval"]
	whyET      string // substring of Why["election-timeout"]
	whyOthers  string // exact Why of snapshot, quota and compaction when overridden
	errHas     []string
	errHasNone []string
}

func defaults(hb, et time.Duration, whyHB, whyET string) want {
	return want{hb: hb, et: et, snap: 10000, quota: 2 << 30, mode: "periodic", ret: "1h", ionice: true, whyHB: whyHB, whyET: whyET}
}

func TestTuneEtcd(t *testing.T) {
	lan := Measured{PeerRTTP99: 300 * time.Microsecond, FdatasyncP99: 2 * ms, ControlPlanes: 3}
	tests := []struct {
		name  string
		m     Measured
		knobs config.Etcd
		want  want
	}{
		{"single control plane", Measured{ControlPlanes: 1, FdatasyncP99: 2 * ms}, config.Etcd{},
			defaults(100*ms, 1000*ms, "single member has no peers", "10 x heartbeat-interval 100ms")},
		{"single control plane, slow disk keeps defaults", Measured{ControlPlanes: 1, FdatasyncP99: 25 * ms}, config.Etcd{},
			defaults(100*ms, 1000*ms, "no election can be lost to it", "")},
		{"3 nodes on a LAN, 0.3ms RTT", lan, config.Etcd{},
			defaults(100*ms, 1000*ms, "100ms = max(etcd default 100ms, 1.5 x peer RTT p99 300µs -> 10ms, 10 x fdatasync p99 2ms -> 20ms); network and disk are fast enough", "")},
		{"3 nodes across regions, 80ms RTT", Measured{PeerRTTP99: 80 * ms, FdatasyncP99: 2 * ms, ControlPlanes: 3}, config.Etcd{},
			defaults(120*ms, 1200*ms, "1.5 x peer RTT p99 80ms -> 120ms", "10 x heartbeat-interval 120ms")},
		{"3 nodes, slow disk 25ms", Measured{PeerRTTP99: 300 * time.Microsecond, FdatasyncP99: 25 * ms, ControlPlanes: 3}, config.Etcd{},
			defaults(250*ms, 2500*ms, "10 x fdatasync p99 25ms -> 250ms); the disk sets it", "10 x heartbeat-interval 250ms")},
		{"across regions and slow disk: the larger wins", Measured{PeerRTTP99: 80 * ms, FdatasyncP99: 25 * ms, ControlPlanes: 5}, config.Etcd{},
			defaults(250*ms, 2500*ms, "the disk sets it", "")},
		{"odd RTT rounds up to 10ms", Measured{PeerRTTP99: 101 * ms, ControlPlanes: 3}, config.Etcd{},
			defaults(160*ms, 1600*ms, "1.5 x peer RTT p99 101ms -> 160ms", "")},
		{"every override wins", lan, config.Etcd{
			HeartbeatInterval: dur(200 * ms), ElectionTimeout: dur(3 * time.Second), SnapshotCount: set(5000),
			QuotaBackendBytes: set(int64(4 << 30)), AutoCompactionMode: set("revision"), AutoCompactionRetention: set("10000"),
			Ionice: set(false),
		}, want{hb: 200 * ms, et: 3 * time.Second, snap: 5000, quota: 4 << 30, mode: "revision", ret: "10000",
			whyHB: "set in meshready:etcd.heartbeatInterval", whyET: "set in meshready:etcd.electionTimeout", whyOthers: "set"}},
		{"heartbeat override, election derived from it", Measured{PeerRTTP99: 80 * ms, ControlPlanes: 3}, config.Etcd{HeartbeatInterval: dur(50 * ms)},
			defaults(50*ms, 1000*ms, "set in meshready:etcd.heartbeatInterval", "etcd's default 1000ms")},
		{"low heartbeat override: election still 10 x RTT", Measured{PeerRTTP99: 150 * ms, ControlPlanes: 3}, config.Etcd{HeartbeatInterval: dur(20 * ms)},
			defaults(20*ms, 1500*ms, "set in", "10 x peer RTT p99 150ms")},
		{"election override under 10 x derived heartbeat", Measured{PeerRTTP99: 80 * ms, ControlPlanes: 3}, config.Etcd{ElectionTimeout: dur(1000 * ms)},
			want{errHas: []string{"meshready:etcd.electionTimeout is 1s, less than 10 x the heartbeat interval derived from measurements (120ms) = 1.2s"},
				errHasNone: []string{"meshready:etcd.heartbeatInterval"}}},
		{"both overridden, election under 10 x heartbeat", lan, config.Etcd{HeartbeatInterval: dur(300 * ms), ElectionTimeout: dur(2 * time.Second)},
			want{errHas: []string{"meshready:etcd.electionTimeout is 2s, less than 10 x meshready:etcd.heartbeatInterval (300ms) = 3s"}}},
		{"heartbeat not whole milliseconds", lan, config.Etcd{HeartbeatInterval: dur(150*ms + 500*time.Microsecond)},
			want{errHas: []string{"meshready:etcd.heartbeatInterval is 150.5ms: want whole milliseconds"}}},
		{"election above 50s", lan, config.Etcd{ElectionTimeout: dur(60 * time.Second)},
			want{errHas: []string{"meshready:etcd.electionTimeout is 1m0s: want whole milliseconds up to etcd's 50s maximum"}}},
		{"3 control planes without RTT", Measured{ControlPlanes: 3}, config.Etcd{},
			want{errHas: []string{"no peer RTT p99 measured for 3 control planes", "meshready:etcd.heartbeatInterval"}}},
		{"3 control planes without RTT, timings set", Measured{ControlPlanes: 3}, config.Etcd{HeartbeatInterval: dur(100 * ms), ElectionTimeout: dur(time.Second)},
			defaults(100*ms, time.Second, "set in", "set in")},
		{"network too slow for one cluster", Measured{PeerRTTP99: 4 * time.Second, ControlPlanes: 3}, config.Etcd{},
			want{errHas: []string{"derived heartbeat 6s exceeds 5s"}}},
		{"revision mode needs a count", lan, config.Etcd{AutoCompactionMode: set("revision")},
			want{errHas: []string{"set meshready:etcd.autoCompactionRetention to a count"}}},
		{"quota above 8 GiB", lan, config.Etcd{QuotaBackendBytes: set(int64(9 << 30))},
			want{errHas: []string{"meshready:etcd.quotaBackendBytes is 9663676416"}}},
		{"no control planes", Measured{}, config.Etcd{}, want{errHas: []string{"want at least one control plane"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := TuneEtcd(tt.m, tt.knobs)
			if len(tt.want.errHas) > 0 {
				if err == nil {
					t.Fatalf("no error, got %+v", got)
				}
				for _, s := range tt.want.errHas {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q\nlacks %q", err, s)
					}
				}
				for _, s := range tt.want.errHasNone {
					if strings.Contains(err.Error(), s) {
						t.Errorf("error %q\nnames %q", err, s)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			w := tt.want
			if got.HeartbeatInterval != w.hb || got.ElectionTimeout != w.et {
				t.Errorf("heartbeat/election = %s/%s, want %s/%s", got.HeartbeatInterval, got.ElectionTimeout, w.hb, w.et)
			}
			if got.SnapshotCount != w.snap || got.QuotaBackendBytes != w.quota || got.AutoCompactionMode != w.mode ||
				got.AutoCompactionRetention != w.ret || got.Ionice != w.ionice || got.MetricsURL != "http://127.0.0.1:2381" {
				t.Errorf("got %+v, want %+v", got, w)
			}
			if !strings.Contains(got.Why["heartbeat-interval"], w.whyHB) {
				t.Errorf("Why[heartbeat-interval] = %q, want it to contain %q", got.Why["heartbeat-interval"], w.whyHB)
			}
			if !strings.Contains(got.Why["election-timeout"], w.whyET) {
				t.Errorf("Why[election-timeout] = %q, want it to contain %q", got.Why["election-timeout"], w.whyET)
			}
			if w.whyOthers != "" {
				for flag, key := range map[string]string{"snapshot-count": "snapshotCount", "quota-backend-bytes": "quotaBackendBytes",
					"auto-compaction-mode": "autoCompactionMode", "auto-compaction-retention": "autoCompactionRetention", "ionice": "ionice"} {
					if want := "set in meshready:etcd." + key; got.Why[flag] != want {
						t.Errorf("Why[%s] = %q, want %q", flag, got.Why[flag], want)
					}
				}
			}
			for _, a := range got.ExtraArgs() {
				if got.Why[a.Name] == "" {
					t.Errorf("flag %s has no Why", a.Name)
				}
			}
		})
	}
}

func TestExtraArgs(t *testing.T) {
	tun, err := TuneEtcd(Measured{PeerRTTP99: 80 * ms, FdatasyncP99: 2 * ms, ControlPlanes: 3}, config.Etcd{})
	if err != nil {
		t.Fatal(err)
	}
	want := []Arg{
		{"auto-compaction-mode", "periodic"},
		{"auto-compaction-retention", "1h"},
		{"election-timeout", "1200"},
		{"heartbeat-interval", "120"},
		{"listen-metrics-urls", "http://127.0.0.1:2381"},
		{"quota-backend-bytes", "2147483648"},
		{"snapshot-count", "10000"},
	}
	if got := tun.ExtraArgs(); !reflect.DeepEqual(got, want) {
		t.Errorf("ExtraArgs() =\n%v\nwant\n%v", got, want)
	}
}

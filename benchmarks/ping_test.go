package benchmarks

import (
	"github.com/meshready/meshready/internal/golden"

	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParsePingGolden(t *testing.T) {
	us := time.Microsecond
	for _, tc := range []struct {
		file string
		want *Latency // nil: checked by properties only (real output)
		loss float64
	}{
		{file: "localhost.txt"},
		{file: "localhost-n.txt"},
		// Real: no host answers on the sandbox's link; iputils prints no reply lines.
		{file: "unreachable.txt", want: &Latency{}, loss: 100},
		// 4 replies (the DUP is ignored, the unreachable line is no reply).
		{file: "dup-and-loss.txt", want: &Latency{P50: 512 * us, P99: 12300 * us, Max: 12300 * us, Samples: 4}, loss: 33.3333},
		// busybox-style summary; time<1 ms counts as 1 ms.
		{file: "time-less-than.txt", want: &Latency{P50: time.Millisecond, P99: 2 * time.Millisecond, Max: 2 * time.Millisecond, Samples: 3}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			lat, loss, err := ParsePing(readTestdata(t, filepath.Join("testdata", "ping", tc.file)))
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == nil {
				if lat.Samples != 20 || loss != 0 || lat.P50 <= 0 || lat.P99 < lat.P50 || lat.Max != lat.P99 {
					t.Errorf("real ping: %+v loss %v, want 20 samples, 0 < p50 <= p99 = max (20 replies)", lat, loss)
				}
			} else if lat != *tc.want || loss != tc.loss {
				t.Errorf("got %+v loss %v, want %+v loss %v", lat, loss, *tc.want, tc.loss)
			}
			out, _ := json.MarshalIndent(RTT{From: "a", To: "b", Latency: lat, Loss: loss}, "", "  ")
			golden.Check(t, filepath.Join("testdata", "ping", strings.TrimSuffix(tc.file, ".txt")+".golden.json"), out)
		})
	}
}

func TestParsePingExact(t *testing.T) {
	// The real localhost run, checked value by value: sorted, the 10th of 20
	// replies is 0.039 ms and the 20th (p99 by nearest rank) the 0.252 ms outlier.
	lat, _, err := ParsePing(readTestdata(t, "testdata/ping/localhost.txt"))
	want := Latency{P50: 39 * time.Microsecond, P99: 252 * time.Microsecond, Max: 252 * time.Microsecond, Samples: 20}
	if err != nil || lat != want {
		t.Errorf("localhost.txt: %+v, %v; want %+v", lat, err, want)
	}
}

func TestParsePingErrors(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"empty", "", "no \"packets transmitted\" summary"},
		{"no route", "ping: connect: Network is unreachable\n", `starts with "ping: connect: Network is unreachable"`},
		{"cut off", "PING 10.0.0.2 (10.0.0.2) 56(84) bytes of data.\n64 bytes from 10.0.0.2: icmp_seq=1 ttl=64 time=0.5 ms\n", "summary"},
		{"quiet", "--- x ping statistics ---\n5 packets transmitted, 5 received, 0% packet loss, time 800ms\n", "5 received but no reply line"},
		{"loss > 100", "1 packets transmitted, 0 received, 250% packet loss\n", "bad numbers"},
	} {
		if _, _, err := ParsePing([]byte(tc.in)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
}

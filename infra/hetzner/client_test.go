package hetzner

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestRetryPolicy(t *testing.T) {
	timeout := &net.OpError{Op: "read", Net: "tcp", Err: errors.New("i/o timeout")}
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	for _, tc := range []struct {
		method string
		status int
		code   string
		err    error
		want   bool
	}{
		{"GET", 429, "rate_limit_exceeded", nil, true},
		{"POST", 429, "rate_limit_exceeded", nil, true}, // refused before it ran
		{"GET", 503, "service_error", nil, true},
		{"DELETE", 502, "bad_gateway", nil, true},
		{"GET", 504, "timeout", nil, true},
		{"POST", 500, "server_error", nil, false},
		{"POST", 502, "bad_gateway", nil, false},
		{"POST", 503, "service_error", nil, false},
		{"GET", 500, "server_error", nil, false},
		{"GET", 404, "not_found", nil, false},
		{"POST", 409, "uniqueness_error", nil, false},
		{"POST", 409, "conflict", nil, false},
		{"DELETE", 409, "conflict", nil, true},
		{"DELETE", 423, "locked", nil, true},
		{"DELETE", 409, "uniqueness_error", nil, false},
		{"GET", 0, "", timeout, true},
		{"DELETE", 0, "", timeout, true},
		{"POST", 0, "", timeout, false},
		{"POST", 0, "", io.ErrUnexpectedEOF, false},
		{"POST", 0, "", refused, true}, // never sent
	} {
		var resp *http.Response
		if tc.err == nil {
			body := `{"error":{"code":"` + tc.code + `","message":"m"}}`
			resp = &http.Response{StatusCode: tc.status, Body: io.NopCloser(strings.NewReader(body))}
		}
		got, err := retryPolicy(tc.method)(context.Background(), resp, tc.err)
		if got != tc.want || err != nil {
			t.Errorf("%s %d %s %v: retry %v (%v), want %v", tc.method, tc.status, tc.code, tc.err, got, err, tc.want)
		}
		if resp != nil {
			if b, _ := io.ReadAll(resp.Body); !strings.Contains(string(b), tc.code) {
				t.Errorf("%s %d: the body was not put back: %q", tc.method, tc.status, b)
			}
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if got, err := retryPolicy("GET")(ctx, nil, timeout); got || !errors.Is(err, context.Canceled) {
		t.Errorf("after cancel: retry %v, %v", got, err)
	}
}

func TestRateLimitWait(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	for _, tc := range []struct {
		name    string
		headers map[string]string
		want    time.Duration
		ok      bool
	}{
		{"none", nil, 0, false},
		{"retry-after seconds", map[string]string{"Retry-After": "7"}, 7 * time.Second, true},
		{"retry-after date", map[string]string{"Retry-After": now.Add(3 * time.Second).UTC().Format(http.TimeFormat)}, 3 * time.Second, true},
		{"retry-after wins", map[string]string{"Retry-After": "2", "RateLimit-Reset": "1700003600"}, 2 * time.Second, true},
		{"reset, budget empty: one request's worth", map[string]string{
			"RateLimit-Limit": "3600", "RateLimit-Remaining": "0", "RateLimit-Reset": "1700003600"}, time.Second, true},
		{"reset without limit: until reset", map[string]string{"RateLimit-Reset": "1700000005"}, 5 * time.Second, true},
		{"reset in the past", map[string]string{"RateLimit-Reset": "1699999990"}, 0, true},
	} {
		h := http.Header{}
		for k, v := range tc.headers {
			h.Set(k, v)
		}
		got, ok := rateLimitWait(h, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s: %v %v, want %v %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

func TestFingerprint(t *testing.T) {
	if got, err := fingerprint(testUserKey); err != nil || got != testUserKeyMD5 {
		t.Errorf("fingerprint: %q %v, want %q", got, err, testUserKeyMD5)
	}
	for _, bad := range []string{"", "ssh-ed25519", "ssh-ed25519 not*base64"} {
		if _, err := fingerprint(bad); err == nil {
			t.Errorf("fingerprint(%q) took it", bad)
		}
	}
}

func TestServerLabels(t *testing.T) {
	b := &Backend{stack: "test"}
	spec := testSpec("fsn1-cp-1", "control-plane")
	if _, err := b.serverLabels(spec); err != nil {
		t.Fatal(err)
	}
	for name, labels := range map[string]map[string]string{
		"another stack":   {"meshready-stack": "prod"},
		"value too long":  {"team": strings.Repeat("a", 64)},
		"bad character":   {"team": "a b"},
		"bad end":         {"team": "infra-"},
		"empty key name":  {"example.com/": "x"},
		"takes our owner": {"meshready": "false"},
	} {
		spec.Labels = labels
		if _, err := b.serverLabels(spec); err == nil {
			t.Errorf("%s: labels %v accepted", name, labels)
		}
	}
	if got := selector(map[string]string{"b": "2", "a": "1"}); got != "a=1,b=2" {
		t.Errorf("selector: %q", got)
	}
}

func TestNewChecksOptions(t *testing.T) {
	for name, o := range map[string]Options{
		"no token":     {Stack: "test"},
		"no stack":     {Token: "hz-tok-3141"},
		"bad stack":    {Token: "hz-tok-3141", Stack: "a b"},
		"bad endpoint": {Token: "hz-tok-3141", Stack: "test", Endpoint: "ftp://example.invalid"},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("%s: New accepted %v", name, o)
		} else if o.Token != "" && strings.Contains(err.Error(), o.Token) {
			t.Errorf("%s: error carries the token", name)
		}
	}
}

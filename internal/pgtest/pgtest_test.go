package pgtest

import (
	"strings"
	"testing"
)

// A real server answers on its URL, with the password, and nowhere but
// loopback.
func TestStartAnswers(t *testing.T) {
	s := Start(t)
	if got := s.Query(t, "SHOW listen_addresses"); len(got) != 1 || got[0] != "127.0.0.1" {
		t.Errorf("listen_addresses = %q", got)
	}
	if got := s.Query(t, "SELECT current_user"); len(got) != 1 || got[0] != "meshready" {
		t.Errorf("current_user = %q", got)
	}
	if !strings.HasPrefix(s.URL, "postgres://meshready:") {
		t.Errorf("URL %s", s.URL)
	}
}

package mesh

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestValidationWait: the webhook counts as answering after it denied
// the always-rejected Gateway WebhookAnswers times in a row; a refused
// call or a write accepted unvalidated (fail open) starts the count again.
func TestValidationWait(t *testing.T) {
	denied := errors.New(`cp-1: "kubectl ..." exited 1: Error from server: admission webhook "validation.istio.io" denied the request: configuration is invalid`)
	refused := errors.New(`cp-1: "kubectl ..." exited 1: Internal error occurred: failed calling webhook "validation.istio.io": connect: connection refused`)
	answers := []error{refused, denied, nil, denied, refused, denied, denied, denied, denied}
	k := &fakeKubectl{}
	k.onApply = func(m []byte) error {
		if !strings.Contains(string(m), alwaysReject) || !strings.Contains(string(m), `"namespace":"istio-system"`) {
			t.Errorf("probe manifest %s", m)
		}
		a := answers[0]
		answers = answers[1:]
		return a
	}
	took, err := ValidationWait{Kubectl: k, Revision: "1-28-0", Timeout: time.Minute, Every: time.Millisecond}.Run(t.Context())
	if err != nil || len(answers) != 1 {
		t.Fatalf("after %s: %v, %d answers left; want 3 denials in a row to end it with 1 left", took, err, len(answers))
	}
	for _, c := range k.commands() {
		if c != "apply -f - --dry-run=server" {
			t.Errorf("ran %q: only dry runs", c)
		}
	}

	k = &fakeKubectl{onApply: func([]byte) error { return refused }}
	quick := func(k *fakeKubectl) error {
		_, err := ValidationWait{Kubectl: k, Revision: "1-28-0", Timeout: 50 * time.Millisecond, Every: time.Millisecond}.Run(t.Context())
		return err
	}
	if err := quick(k); err == nil ||
		!strings.Contains(err.Error(), "(revision 1-28-0) did not answer") || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("a webhook that never answers: %v", err)
	}
	k = &fakeKubectl{onApply: func([]byte) error { return nil }}
	if err := quick(k); err == nil || !strings.Contains(err.Error(), "fails open") {
		t.Errorf("a webhook that fails open: %v", err)
	}
}

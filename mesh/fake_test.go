package mesh

import (
	"context"
	"strings"
	"sync"
)

// fakeKubectl stands for kubectl on a control plane: it records every
// command (its arguments joined by spaces) and manifest, and answers
// through respond.
type fakeKubectl struct {
	mu      sync.Mutex
	calls   []string
	applied [][]byte
	respond func(args []string) (string, error)
	onApply func(manifest []byte) error
}

func (k *fakeKubectl) Host() string { return "cp-1" }

func (k *fakeKubectl) Run(_ context.Context, args ...string) (string, error) {
	k.mu.Lock()
	k.calls = append(k.calls, strings.Join(args, " "))
	k.mu.Unlock()
	if k.respond == nil {
		return "", nil
	}
	return k.respond(args)
}

func (k *fakeKubectl) Apply(_ context.Context, manifest []byte, args ...string) error {
	k.mu.Lock()
	k.calls = append(k.calls, strings.Join(append([]string{"apply", "-f", "-"}, args...), " "))
	k.applied = append(k.applied, manifest)
	k.mu.Unlock()
	if k.onApply != nil {
		return k.onApply(manifest)
	}
	return nil
}

func (k *fakeKubectl) commands() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]string(nil), k.calls...)
}

package mesh

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/meshready/meshready/kube"
)

// alwaysReject is the annotation istiod's validation webhook rejects any
// resource for (Istio's constants.AlwaysReject): what istiod itself sends,
// as a dry run, before it closes its webhooks.
const alwaysReject = "internal.istio.io/webhook-always-reject"

// WebhookAnswers is how many answers in a row, a second apart, count as a
// webhook that answers: the first one that gets through can come while
// the API server's node still updates its routes to the new istiod.
const WebhookAnswers = 3

// ValidationWait waits until Istio's validation webhook for resources
// that name no revision answers through the API server, WebhookAnswers
// times in a row: a dry run of a Gateway istiod always rejects is denied
// by the webhook. Until then a write of an Istio resource can fail
// ("failed calling webhook": the webhook points at a new istiod whose
// Service the API server's node does not route yet) or, while the webhook
// still fails open, go unvalidated. After Timeout, Run returns an error
// with the last answer.
type ValidationWait struct {
	Kubectl  kube.Kubectl
	Revision string
	Timeout  time.Duration
	// Every is the time between tries (a second when zero).
	Every time.Duration
}

// Run waits; it returns how long it waited.
func (w ValidationWait) Run(ctx context.Context) (time.Duration, error) {
	k, rev, timeout, every := w.Kubectl, w.Revision, w.Timeout, w.Every
	if every <= 0 {
		every = time.Second
	}
	gateway := fmt.Sprintf(`{"apiVersion":"networking.istio.io/v1","kind":"Gateway","metadata":{"name":"meshready-webhook-probe","namespace":%q,"annotations":{%q:"true"}},"spec":{}}`,
		SystemNamespace, alwaysReject)
	start := time.Now()
	deadline := start.Add(timeout)
	answered := 0
	for {
		err := k.Apply(ctx, []byte(gateway), "--dry-run=server")
		last := "accepted without validation (the webhook fails open and did not answer)"
		switch {
		case err != nil && strings.Contains(err.Error(), "denied the request"):
			answered++
			if answered == WebhookAnswers {
				return time.Since(start), nil
			}
		case err != nil:
			answered = 0
			last = err.Error()
		default:
			answered = 0
		}
		if answered == 0 && !time.Now().Before(deadline) {
			return time.Since(start), fmt.Errorf("%s: Istio's validation webhook (revision %s) did not answer within %s: %s", k.Host(), rev, timeout, last)
		}
		select {
		case <-ctx.Done():
			return time.Since(start), ctx.Err()
		case <-time.After(every):
		}
	}
}

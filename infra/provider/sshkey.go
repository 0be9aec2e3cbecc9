package provider

import (
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
)

// createSSHKey makes the key pair meshready logs in to its servers with. It is
// a resource so that the pair is made once and kept in state (the private key
// as a secret), not regenerated on every run.
func createSSHKey(req plugin.CreateRequest) (plugin.CreateResponse, error) {
	kp, err := newHostKey() // the same ed25519 pair shape serves as a client key
	if err != nil {
		return plugin.CreateResponse{}, err
	}
	out := req.Properties.Copy()
	out["publicKey"] = resource.NewProperty(kp.Public)
	out["privateKey"] = resource.MakeSecret(resource.NewProperty(kp.PrivatePEM))
	fp := fingerprint(kp.Public)
	out["fingerprint"] = resource.NewProperty(fp)
	return plugin.CreateResponse{ID: resource.ID(fp), Properties: out, Status: resource.StatusOK}, nil
}

// diffSSHKey: a key pair never changes; new inputs (its comment) replace it.
func diffSSHKey(olds, news resource.PropertyMap) plugin.DiffResult {
	if olds.DeepEquals(news) {
		return plugin.DiffResult{Changes: plugin.DiffNone}
	}
	var keys []resource.PropertyKey
	for k := range news {
		if !olds[k].DeepEquals(news[k]) {
			keys = append(keys, k)
		}
	}
	return plugin.DiffResult{Changes: plugin.DiffSome, ReplaceKeys: keys}
}

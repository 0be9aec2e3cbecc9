package provider

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil/rpcerror"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"golang.org/x/crypto/ssh"
	"google.golang.org/grpc/codes"

	"github.com/meshready/meshready/infra"
	"github.com/meshready/meshready/remote"
)

// Facts are what the provider reads from a server once it answers SSH.
type Facts struct {
	Device         string `json:"device"`
	Model          string `json:"model"`
	FSType         string `json:"fsType"`
	Rotational     *bool  `json:"rotational"`
	Virtualization string `json:"virtualization"`
}

// Connector waits until a server answers SSH with its pinned host key, then
// reads its disk and virtualisation facts.
type Connector interface {
	Probe(ctx context.Context, t remote.Target, auth remote.Auth) (Facts, error)
}

func (p *Provider) backend(in ServerInputs) (infra.Backend, error) {
	f, ok := p.backends[in.Backend]
	if !ok {
		return nil, fmt.Errorf("backend %q is not served by this plugin", in.Backend)
	}
	return f(in)
}

func (p *Provider) createServer(ctx context.Context, req plugin.CreateRequest) (plugin.CreateResponse, error) {
	in, err := decodeServer(req.Properties)
	if err != nil {
		return plugin.CreateResponse{}, err
	}
	b, err := p.backend(in)
	if err != nil {
		return plugin.CreateResponse{}, err
	}
	spec := infra.ServerSpec{
		Name: in.Name, Role: in.Role, Region: in.Region, ServerType: in.ServerType, Image: in.Image,
		SSHPublicKey: in.SSHPublicKey, Labels: ownLabels(in),
	}
	hostKey := ""
	if in.Backend == "static" {
		hostKey = in.Static.HostKey
	} else {
		// The server gets a host key made here, so the first connect is already verified.
		if spec.HostKey, err = newHostKey(); err != nil {
			return plugin.CreateResponse{}, err
		}
		hostKey = spec.HostKey.Public
	}
	p.log.Info("creating server", "host", in.Name, "backend", in.Backend)
	srv, err := b.Create(ctx, spec)
	if err != nil {
		return plugin.CreateResponse{}, fmt.Errorf("create %s: %w", in.Name, err)
	}
	facts, err := p.connect.Probe(ctx, target(in, srv, hostKey), auth(in))
	if err != nil {
		msg := fmt.Sprintf("%s was created but does not answer SSH with its pinned host key: %v", in.Name, err)
		return plugin.CreateResponse{}, initFailed(srv.ID, serverOutputs(in, srv, hostKey, Facts{}), msg)
	}
	if facts.Virtualization == "" {
		facts.Virtualization = srv.Virtualization
	}
	p.log.Info("server ready", "host", in.Name, "address", srv.Address(), "disk", facts.Device)
	return plugin.CreateResponse{ID: resource.ID(srv.ID), Properties: serverOutputs(in, srv, hostKey, facts), Status: resource.StatusOK}, nil
}

func (p *Provider) readServer(ctx context.Context, req plugin.ReadRequest) (plugin.ReadResponse, error) {
	in, err := decodeServer(req.Inputs)
	if err != nil {
		return plugin.ReadResponse{}, err
	}
	b, err := p.backend(in)
	if err != nil {
		return plugin.ReadResponse{}, err
	}
	srv, err := b.Get(ctx, string(req.ID))
	if errors.Is(err, infra.ErrNotFound) {
		p.log.Warn("server is gone", "host", in.Name, "id", req.ID)
		return plugin.ReadResponse{ReadResult: plugin.ReadResult{}, Status: resource.StatusOK}, nil
	}
	if err != nil {
		return plugin.ReadResponse{}, fmt.Errorf("read %s: %w", in.Name, err)
	}
	out := req.State.Copy()
	for k, v := range serverOutputs(in, srv, str(req.State, "hostKey"), Facts{}) {
		if k == "disk" || k == "virtualization" {
			continue // facts are read once, at create
		}
		out[k] = v
	}
	return plugin.ReadResponse{ReadResult: plugin.ReadResult{ID: req.ID, Inputs: req.Inputs, Outputs: out}, Status: resource.StatusOK}, nil
}

func updateServer(req plugin.UpdateRequest) (plugin.UpdateResponse, error) {
	in, err := decodeServer(req.NewInputs)
	if err != nil {
		return plugin.UpdateResponse{}, err
	}
	out := req.OldOutputs.Copy()
	out["labels"] = resource.NewProperty(resource.NewPropertyMapFromMap(toAny(ownLabels(in))))
	return plugin.UpdateResponse{Properties: out, Status: resource.StatusOK}, nil
}

func (p *Provider) deleteServer(ctx context.Context, req plugin.DeleteRequest) (plugin.DeleteResponse, error) {
	in, err := decodeServer(req.Inputs)
	if err != nil {
		return plugin.DeleteResponse{}, err
	}
	b, err := p.backend(in)
	if err != nil {
		return plugin.DeleteResponse{}, err
	}
	p.log.Info("deleting server", "host", in.Name, "id", req.ID)
	if err := b.Delete(ctx, string(req.ID)); err != nil && !errors.Is(err, infra.ErrNotFound) {
		return plugin.DeleteResponse{}, fmt.Errorf("delete %s: %w", in.Name, err)
	}
	return plugin.DeleteResponse{Status: resource.StatusOK}, nil
}

// initFailed reports a server that exists but is not usable. The engine then
// records it in state with its ID (so a re-run or destroy deals with it)
// instead of leaking it; the provider server passes this gRPC error through.
func initFailed(id string, out resource.PropertyMap, msg string) error {
	props, err := plugin.MarshalProperties(out, plugin.MarshalOptions{KeepSecrets: true})
	if err != nil {
		return fmt.Errorf("%s (and its outputs: %w)", msg, err)
	}
	return rpcerror.WithDetails(rpcerror.New(codes.Unknown, msg),
		&pulumirpc.ErrorResourceInitFailed{Id: id, Properties: props, Reasons: []string{msg}})
}

// ownLabels are the labels that mark what meshready owns, plus the user's.
func ownLabels(in ServerInputs) map[string]string {
	l := map[string]string{"meshready": "true", "meshready-stack": in.Stack, "meshready-role": in.Role}
	for k, v := range in.Labels {
		l[k] = v
	}
	return l
}

func target(in ServerInputs, srv infra.Server, hostKey string) remote.Target {
	return remote.Target{Name: in.Name, Address: srv.Address(), Port: srv.SSHPort, User: srv.SSHUser, HostKey: hostKey}
}

func auth(in ServerInputs) remote.Auth {
	return remote.Auth{PrivateKey: []byte(in.SSHPrivateKey), IdentityFile: in.IdentityFile}
}

func serverOutputs(in ServerInputs, srv infra.Server, hostKey string, f Facts) resource.PropertyMap {
	fp := fingerprint(hostKey)
	disk := map[string]any{"device": f.Device, "model": f.Model, "fsType": f.FSType}
	if f.Rotational != nil {
		disk["rotational"] = *f.Rotational
	}
	return resource.NewPropertyMapFromMap(map[string]any{
		"backend":            in.Backend,
		"stack":              in.Stack,
		"name":               in.Name,
		"role":               in.Role,
		"region":             in.Region,
		"serverType":         in.ServerType,
		"image":              in.Image,
		"status":             srv.Status,
		"publicIp":           srv.PublicIPv4,
		"privateIp":          srv.PrivateIPv4,
		"address":            srv.Address(),
		"sshPort":            srv.SSHPort,
		"sshUser":            srv.SSHUser,
		"hostKey":            strings.TrimSpace(hostKey),
		"hostKeyFingerprint": fp,
		"labels":             toAny(ownLabels(in)),
		"disk":               disk,
		"virtualization":     f.Virtualization,
	})
}

// fingerprint is the SHA256 fingerprint of an authorized_keys line; a
// fingerprint given as such is returned unchanged.
func fingerprint(key string) string {
	if pk, _, _, _, err := ssh.ParseAuthorizedKey([]byte(key)); err == nil {
		return ssh.FingerprintSHA256(pk)
	}
	return key
}

func toAny(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func str(m resource.PropertyMap, k string) string {
	if v, ok := m[resource.PropertyKey(k)]; ok && v.IsString() {
		return v.StringValue()
	}
	return ""
}

// newHostKey makes an ed25519 SSH host key pair.
func newHostKey() (infra.HostKeyPair, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return infra.HostKeyPair{}, err
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		return infra.HostKeyPair{}, err
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		return infra.HostKeyPair{}, err
	}
	return infra.HostKeyPair{
		PrivatePEM: string(pem.EncodeToMemory(block)),
		Public:     strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sp))),
	}, nil
}

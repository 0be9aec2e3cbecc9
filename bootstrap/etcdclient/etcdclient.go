// Package etcdclient is the real bootstrap.Etcd: etcd's own client
// (go.etcd.io/etcd/client/v3) over a control plane's SSH connection.
package etcdclient

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"

	"github.com/meshready/meshready/bootstrap"
	"github.com/meshready/meshready/remote"
)

// clientFiles are the first control plane's etcd CA and the client
// certificate kubeadm made for the API server (etcd runs without auth:
// any certificate its CA signed has the whole keyspace).
const clientFiles = "/etc/kubernetes/pki/etcd/ca.crt /etc/kubernetes/pki/apiserver-etcd-client.crt /etc/kubernetes/pki/apiserver-etcd-client.key"

// Dial reaches the etcd of the cluster whose control plane cp is:
// etcd's own client (go.etcd.io/etcd/client/v3) over cp's SSH connection
// to its loopback, where etcd listens, so no etcd port needs to face the
// machine running meshready. The client key is read from cp into memory
// for this call alone.
func Dial(ctx context.Context, cp bootstrap.Node) (bootstrap.Etcd, error) {
	tunnel, ok := cp.Runner.(remote.Tunnel)
	if !ok {
		return nil, fmt.Errorf("%s: etcd: the connection to the node cannot tunnel", cp.Name)
	}
	out, err := cp.Runner.Run(ctx, "cat "+clientFiles)
	if err != nil {
		return nil, fmt.Errorf("%s: etcd client certificate: %w", cp.Name, err)
	}
	tlsCfg, err := clientTLS(out.Stdout)
	if err != nil {
		return nil, fmt.Errorf("%s: etcd client certificate: %w", cp.Name, err)
	}
	c, err := clientv3.New(clientv3.Config{
		Endpoints:   []string{"https://127.0.0.1:2379"},
		TLS:         tlsCfg,
		DialTimeout: 20 * time.Second,
		Context:     ctx,
		Logger:      zap.NewNop(),
		DialOptions: []grpc.DialOption{grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			return tunnel.DialContext(ctx, "tcp", addr)
		})},
	})
	if err != nil {
		return nil, fmt.Errorf("%s: etcd: %w", cp.Name, err)
	}
	return client{c: c, host: cp.Name}, nil
}

// clientTLS reads the CA, the client certificate and its key, in that order.
func clientTLS(pemData []byte) (*tls.Config, error) {
	var blocks []*pem.Block
	for rest := pemData; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		blocks = append(blocks, b)
	}
	if len(blocks) != 3 {
		return nil, fmt.Errorf("want the CA, the certificate and its key, found %d PEM blocks", len(blocks))
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem.EncodeToMemory(blocks[0])) {
		return nil, errors.New("the etcd CA is not a certificate")
	}
	pair, err := tls.X509KeyPair(pem.EncodeToMemory(blocks[1]), pem.EncodeToMemory(blocks[2]))
	if err != nil {
		return nil, err
	}
	return &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}, nil
}

type client struct {
	c    *clientv3.Client
	host string
}

func (e client) Members(ctx context.Context) ([]bootstrap.EtcdMember, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	l, err := e.c.MemberList(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: etcd member list: %w", e.host, err)
	}
	var out []bootstrap.EtcdMember
	for _, m := range l.Members {
		em := bootstrap.EtcdMember{ID: m.ID, Name: m.Name, PeerURLs: m.PeerURLs, ClientURLs: m.ClientURLs}
		if len(m.ClientURLs) > 0 {
			sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			st, err := e.c.Status(sctx, m.ClientURLs[0])
			cancel()
			em.Healthy = err == nil
			em.Leader = err == nil && st.Header != nil && st.Leader == st.Header.MemberId
		}
		out = append(out, em)
	}
	return out, nil
}

func (e client) Remove(ctx context.Context, id uint64) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := e.c.MemberRemove(ctx, id); err != nil {
		return fmt.Errorf("%s: etcd member remove %x: %w", e.host, id, err)
	}
	return nil
}

// MoveLeader asks the leader itself, over its own client URL (etcd
// refuses a leadership transfer sent to a follower), dialled through the
// same tunnel as every other call.
func (e client) MoveLeader(ctx context.Context, leader bootstrap.EtcdMember, to uint64) error {
	if len(leader.ClientURLs) == 0 {
		return fmt.Errorf("%s: etcd move-leader: member %s has no client URL", e.host, leader.Name)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := e.c.Dial(leader.ClientURLs[0])
	if err != nil {
		return fmt.Errorf("%s: etcd move-leader: dial %s: %w", e.host, leader.Name, err)
	}
	defer conn.Close()
	if _, err := pb.NewMaintenanceClient(conn).MoveLeader(ctx, &pb.MoveLeaderRequest{TargetID: to}); err != nil {
		return fmt.Errorf("%s: etcd move-leader from %s to %x: %w", e.host, leader.Name, to, err)
	}
	return nil
}

func (e client) Snapshot(ctx context.Context, w io.Writer) (int64, error) {
	r, err := e.c.SnapshotWithVersion(ctx)
	if err != nil {
		return 0, fmt.Errorf("%s: etcd snapshot: %w", e.host, err)
	}
	defer r.Snapshot.Close()
	n, err := io.Copy(w, r.Snapshot)
	if err != nil {
		return n, fmt.Errorf("%s: etcd snapshot: %w", e.host, err)
	}
	return n, nil
}

func (e client) Close() error { return e.c.Close() }

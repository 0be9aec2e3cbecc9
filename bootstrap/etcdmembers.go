package bootstrap

import (
	"context"
	"io"
)

// Etcd is meshready's one seam to a cluster's etcd: its members and their
// health, removing one, a snapshot. etcdclient.Dial is the real one (a
// package of its own, so that what reads and renders here compiles and
// fuzzes without etcd's client and gRPC); tests use a fake.
type Etcd interface {
	// Members lists the members, each with whether it answers now.
	Members(ctx context.Context) ([]EtcdMember, error)
	// Remove takes a member out of the cluster (etcd's member remove).
	Remove(ctx context.Context, id uint64) error
	// MoveLeader hands the leadership of leader (the member leading now)
	// to member to (etcdctl move-leader).
	MoveLeader(ctx context.Context, leader EtcdMember, to uint64) error
	// Snapshot streams a point-in-time snapshot of the keyspace to w.
	Snapshot(ctx context.Context, w io.Writer) (int64, error)
	Close() error
}

// EtcdMember is one member of a cluster's etcd.
type EtcdMember struct {
	ID         uint64
	Name       string
	PeerURLs   []string
	ClientURLs []string
	Healthy    bool
	// Leader says the member answered that it leads.
	Leader bool
}

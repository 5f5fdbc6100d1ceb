package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/netip"

	"go.uber.org/zap"

	"github.com/pequod-go/pequod/partition"
	"github.com/pequod-go/pequod/partition/peer/mesh"
	"github.com/pequod-go/pequod/partition/route"
	"github.com/pequod-go/pequod/reactor"
)

// clusterFlags are serve's options for running as one server of a cluster
// (spec/server.md §2.3, §2.8, §2.9, §3): the host file, the number of base
// servers, the partition function over servers and, where hostname
// resolution does not find this server in the file, its seqid.
type clusterFlags struct {
	hostFile string
	nbacking int
	partfunc string
	self     int
	hosts    []route.Host
}

func (c *clusterFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.hostFile, "H", "", "run as one server of the cluster listed in this host `file` (one \"host port\" per line, server.md §2.8)")
	fs.StringVar(&c.hostFile, "hostfile", "", "same as -H")
	fs.IntVar(&c.nbacking, "B", 0, "with -H: the first `N` servers are base servers (raw data), the rest cache servers (joins)")
	fs.IntVar(&c.nbacking, "nbacking", 0, "same as -B")
	fs.StringVar(&c.partfunc, "P", "", "with -H: the partition `function` over servers (twitternew, twitternew-text, twitter, hackernews, unit, default; server.md §2.9); partitions inside the server use it too")
	fs.IntVar(&c.self, "self", -1, "with -H: this server's seqid (its line in the host file, from 0), when finding itself by address and port does not work")
}

// join prepares this server's place in the cluster: it reads the host
// file, finds this server in it, builds the §2.9 function over servers and
// the mesh, and fills the partition and reactor configurations with them.
func (c *clusterFlags) join(ctx context.Context, port int, secret []byte, log *zap.Logger,
	pcfg *partition.Config, rcfg *reactor.Config) (*mesh.Mesh, error) {
	hosts, err := route.ReadHostFile(c.hostFile)
	if err != nil {
		return nil, fmt.Errorf("-H: %w", err)
	}
	c.hosts = hosts
	if c.partfunc == "" {
		return nil, fmt.Errorf("-H needs -P: the partition function over the servers")
	}
	servers, err := route.NewServers(c.partfunc, c.nbacking, len(hosts))
	if err != nil {
		return nil, fmt.Errorf("-P/-B: %w", err)
	}
	self := c.self
	if self >= 0 {
		if self, err = route.SelfByIndex(hosts, self); err != nil {
			return nil, fmt.Errorf("--self: %w", err)
		}
	} else {
		addrs, err := route.LocalAddrs(ctx, net.DefaultResolver)
		if err != nil {
			return nil, fmt.Errorf("finding this server in %s: %w", c.hostFile, err)
		}
		addrs = append(addrs, netip.MustParseAddr("127.0.0.1"))
		if self, err = route.FindSelf(ctx, net.DefaultResolver, hosts, addrs, port); err != nil {
			return nil, fmt.Errorf("finding this server in %s: %w", c.hostFile, err)
		}
	}
	// Inside the server, keys are spread over partitions by the same
	// function, so a partition's share of a remote server's range is easy
	// to name.
	pcfg.Partitioner = c.partfunc
	mcfg := mesh.Config{Self: self, Hosts: hosts, Partitions: pcfg.Partitions, PartFunc: c.partfunc,
		Auth: secret, Logger: log.Named("mesh")}
	if err := mcfg.Validate(); err != nil {
		return nil, err
	}
	m := mesh.New(mcfg)
	pcfg.Transport = m
	pcfg.Cluster = &partition.Cluster{Self: self, Servers: servers, Layout: m.Layout, Ready: m.Ready}
	rcfg.Interconnect = m.Accept
	return m, nil
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strconv"

	"github.com/pequod-go/pequod/loadgen/async"
	"github.com/pequod-go/pequod/loadgen/pqclient"
	memcachedshim "github.com/pequod-go/pequod/loadgen/shim/memcached"
	pgshim "github.com/pequod-go/pequod/loadgen/shim/postgres"
	redisshim "github.com/pequod-go/pequod/loadgen/shim/redis"
	"github.com/pequod-go/pequod/loadgen/twitter"
	"github.com/pequod-go/pequod/partition"
	"github.com/pequod-go/pequod/partition/route"
)

// twitterBackendOptions select and configure the store a twitternew run
// talks to (spec/apps.md §1).
type twitterBackendOptions struct {
	// Backend is "pequod" (default), "redis", "memcached" or "dbshim".
	Backend string
	// Params are the run's raw parameters.
	Params twitter.Params
	// Client is the Pequod server address (host:port); "" means an
	// in-process server. With HostFile it is instead the seqid of the one
	// server everything goes to (-c=N with -H, server.md §2.10), or "".
	Client string
	// HostFile lists the servers of a cluster (-H, server.md §2.8); keys are
	// routed by twitternew or twitternew-text (by key encoding).
	HostFile string
	// NBacking is the number of base servers of the cluster (-B).
	NBacking int
	// Partitions of an in-process server (runtime.NumCPU() when 0).
	Partitions int
	// Profiling is -cpuprofile / -memprofile.
	Profiling profiling

	RedisAddr     string
	MemcachedAddr string
	DBHost        string
	DBPort        int
	DBName        string
	DBPoolMin     int
	DBPoolMax     int
	DBPoolDepth   int

	// Progress receives the back end's messages (stderr).
	Progress io.Writer
}

// openTwitterBackend opens the back end opts select, on loop. Closing the
// back end releases everything it opened (an in-process server included).
func openTwitterBackend(ctx context.Context, opts twitterBackendOptions, loop *async.Loop) (twitter.Backend, error) {
	switch opts.Backend {
	case "", "pequod":
		return openPequodTwitter(ctx, opts, loop)
	case "redis":
		return redisshim.NewTwitter(ctx, opts.RedisAddr, loop, redisshim.TwitterConfig{Binary: opts.Params.Binary})
	case "memcached":
		// apps.md §3.3: the memcached shim stores fixed-width text records.
		if opts.Params.Binary {
			return nil, errors.New("--memcached needs text keys: add --no-binary (apps.md §3.3)")
		}
		return memcachedshim.NewTwitter(ctx, opts.MemcachedAddr, loop)
	case "dbshim":
		if opts.Params.Push || opts.Params.Celebrity != 0 {
			return nil, errors.New("--dbshim fans out with a trigger: it supports neither --push nor --celebrity (apps.md §3.4)")
		}
		return pgshim.NewTwitter(ctx, pgshim.Config{
			Host: opts.DBHost, Port: opts.DBPort, DBName: opts.DBName,
			PoolMax: opts.DBPoolMax, Depth: opts.DBPoolDepth,
		}, loop)
	default:
		return nil, fmt.Errorf("unknown back end %q", opts.Backend)
	}
}

// openPequodTwitter connects to the servers of opts.HostFile or to
// opts.Client, or starts an in-process server; all are partitioned by the
// twitternew function matching the key encoding.
func openPequodTwitter(ctx context.Context, opts twitterBackendOptions, loop *async.Loop) (twitter.Backend, error) {
	pf := "twitternew"
	if !opts.Params.Binary {
		pf = "twitternew-text"
	}
	if opts.HostFile != "" {
		cl, err := dialCluster(ctx, opts.HostFile, pf, opts.NBacking, opts.Client, opts.Params.RandCache, loop)
		if err != nil {
			return nil, err
		}
		be, err := twitter.NewPequod(cl, opts.Params, twitter.PequodConfig{Progress: opts.Progress})
		if err != nil {
			cl.Close()
			return nil, err
		}
		return be, nil
	}
	if opts.Client != "" {
		conn, err := pqclient.Dial(ctx, opts.Client, loop)
		if err != nil {
			return nil, fmt.Errorf("connecting to %s: %w", opts.Client, err)
		}
		be, err := twitter.NewPequod(conn, opts.Params, twitter.PequodConfig{Progress: opts.Progress})
		if err != nil {
			conn.Close()
			return nil, err
		}
		return be, nil
	}
	parts := opts.Partitions
	if parts <= 0 {
		parts = runtime.NumCPU()
	}
	srv, err := partition.New(partition.Config{Partitions: parts, Partitioner: pf})
	if err != nil {
		return nil, fmt.Errorf("in-process server: %w", err)
	}
	be, err := twitter.NewPequod(pqclient.Embedded(srv, loop), opts.Params, twitter.PequodConfig{InProcess: true, Progress: opts.Progress})
	if err != nil {
		srv.Close()
		return nil, err
	}
	return &ownedServer{Pequod: be, srv: srv}, nil
}

// ownedServer is the Pequod back end of an in-process server it owns:
// Close also closes the server (the original sends it a quit, §1).
type ownedServer struct {
	*twitter.Pequod
	srv *partition.Server
}

func (o *ownedServer) Close() error {
	err := o.Pequod.Close()
	o.srv.Close()
	return errors.Join(err)
}

// dialCluster connects to the servers of hostFile with partition function
// pf and nbacking base servers (server.md §2.8–§2.10). colocate, if not
// "", is the seqid everything goes to (-c=N with -H).
func dialCluster(ctx context.Context, hostFile, pf string, nbacking int, colocate string, randCache bool, loop *async.Loop) (*pqclient.Cluster, error) {
	hosts, err := route.ReadHostFile(hostFile)
	if err != nil {
		return nil, err
	}
	servers, err := route.NewServers(pf, nbacking, len(hosts))
	if err != nil {
		return nil, fmt.Errorf("-H %s -B %d: %w", hostFile, nbacking, err)
	}
	cfg := pqclient.ClusterConfig{Hosts: hosts, Servers: servers, RandCache: randCache}
	if colocate != "" {
		n, err := strconv.Atoi(colocate)
		if err != nil {
			return nil, fmt.Errorf("-c=%s with -H: want the seqid of a server of %s", colocate, hostFile)
		}
		cfg.Colocated, cfg.Colocate = true, n
	}
	return pqclient.DialCluster(ctx, cfg, loop)
}

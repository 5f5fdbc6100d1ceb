package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/pequod-go/pequod/loadgen/async"
	"github.com/pequod-go/pequod/loadgen/hn"
	pgshim "github.com/pequod-go/pequod/loadgen/shim/postgres"
	redisshim "github.com/pequod-go/pequod/loadgen/shim/redis"
)

// openHNBackend opens the back end o selects, completing on loop.
func openHNBackend(ctx context.Context, o *hnOptions, loop *async.Loop) (hn.Backend, error) {
	switch o.backend {
	case "pequod":
		return openHNPequod(ctx, o, loop)
	case "redis":
		return redisshim.NewHN(ctx, o.redisAddr, loop, redisshim.HNConfig{
			Pull: o.params.Pull, Push: o.params.Push, SuperMaterialize: o.params.SuperMaterialize,
		})
	case "pg":
		if o.params.SuperMaterialize {
			return nil, errors.New("--pg has no materialized pages (apps.md §5.7): drop --super_materialize")
		}
		if o.params.Pull && !o.params.Push {
			return nil, errors.New("--pg needs karma joins or --push (apps.md §5.7): drop --pull")
		}
		return pgshim.NewHN(ctx, pgshim.Config{
			Host: o.db.Host, Port: o.db.Port, DBName: o.db.Name,
			PoolMax: o.db.PoolMax, Depth: o.db.PoolDepth,
		}, loop, pgshim.HNConfig{MK: !o.params.Push, Push: o.params.Push})
	default:
		return nil, fmt.Errorf("unknown back end %q", o.backend)
	}
}

// Package postgres holds the PostgreSQL back ends of the workload
// generators: twitternew against a database that fans posts out into
// timelines with a trigger (apps.md §3.4, `--dbshim`) and Hacker News with a
// trigger-maintained or client-maintained karma table (§5.7, `--pg`).
//
// Both back ends talk to the database through a pool of Config.PoolMax
// pgx connections. Each connection is owned by one worker goroutine that
// sends up to Config.Depth queued operations as one pipelined pgx.Batch;
// completions are delivered on the run's async.Loop in issue order per
// connection. Operations are routed to connections deterministically (by
// user id for twitternew, by article id for hn), so one user's (article's)
// operations are never reordered.
//
// A batch runs in one implicit transaction (one Sync per batch): if any of
// its statements fails, every operation of the batch reports the error.
//
// loadgen/scripts/postgres.sh runs a matching throw-away server.
package postgres

import (
	"context"
	"fmt"
	"os"
	"os/user"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Defaults of the DB pool parameters (apps.md §1).
const (
	DefaultHost            = "127.0.0.1"
	DefaultPort            = 10000
	DefaultDBName          = "pequod"
	DefaultPoolMax         = 1
	DefaultDepth           = 1
	DefaultPipelineTimeout = 2000 * time.Microsecond
)

// Config selects the database and the connection pool (`--dbhost`,
// `--dbport`, `--dbname`, `--dbpool-max`, `--dbpool-depth`). Zero fields take
// the defaults above.
type Config struct {
	// Host and Port locate the server (default 127.0.0.1:10000).
	Host string
	Port int
	// DBName is the database (default "pequod").
	DBName string
	// User is the role to connect as. Empty means $PGUSER if set, else
	// "postgres" when running as root (postgres.sh then runs the server as
	// the postgres system user, whose name is the superuser's), else the
	// current OS user (the superuser of a cluster postgres.sh started as
	// that user).
	User string
	// PoolMax is the number of connections (default 1).
	PoolMax int
	// Depth is the pipeline depth: at most this many operations are sent in
	// one batch (default 1: no pipelining).
	Depth int
	// PipelineTimeout bounds how long a worker holds a partial batch
	// (fewer than Depth operations) waiting for more, measured from the
	// oldest queued operation (default 2 ms). A negative value sends
	// partial batches at once. Irrelevant when Depth is 1.
	PipelineTimeout time.Duration
}

// withDefaults returns c with zero fields set to the defaults.
func (c Config) withDefaults() Config {
	if c.Host == "" {
		c.Host = DefaultHost
	}
	if c.Port == 0 {
		c.Port = DefaultPort
	}
	if c.DBName == "" {
		c.DBName = DefaultDBName
	}
	if c.User == "" {
		c.User = defaultUser()
	}
	if c.PoolMax <= 0 {
		c.PoolMax = DefaultPoolMax
	}
	if c.Depth <= 0 {
		c.Depth = DefaultDepth
	}
	if c.PipelineTimeout == 0 {
		c.PipelineTimeout = DefaultPipelineTimeout
	}
	return c
}

// defaultUser is Config.User's default (see there).
func defaultUser() string {
	if u := os.Getenv("PGUSER"); u != "" {
		return u
	}
	if os.Geteuid() == 0 {
		return "postgres"
	}
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return os.Getenv("USER")
}

// dsnQuote quotes a keyword/value connection string value.
func dsnQuote(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	s = strings.ReplaceAll(s, `'`, `\'`)
	return "'" + s + "'"
}

// connString is the keyword/value connection string for c (defaults
// applied).
func (c Config) connString() string {
	return fmt.Sprintf("host=%s port=%d dbname=%s user=%s sslmode=disable application_name=pequod-loadgen",
		dsnQuote(c.Host), c.Port, dsnQuote(c.DBName), dsnQuote(c.User))
}

// connect opens one connection for c (defaults applied).
func connect(ctx context.Context, c Config) (*pgx.Conn, error) {
	pc, err := pgx.ParseConfig(c.connString())
	if err != nil {
		return nil, fmt.Errorf("postgres: parse connection config: %w", err)
	}
	conn, err := pgx.ConnectConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect to %s:%d/%s as %s: %w", c.Host, c.Port, c.DBName, c.User, err)
	}
	return conn, nil
}

// schemaLockKey is the advisory lock that serializes schema changes of
// concurrent processes (several populate and client processes each run
// Initialize).
const schemaLockKey = 0x7065_716f // "peqo"

// execSchema runs stmts in one transaction holding the schema lock.
func execSchema(ctx context.Context, conn *pgx.Conn, what string, stmts []string) error {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: %s: begin: %w", what, err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // no-op after Commit
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(schemaLockKey)); err != nil {
		return fmt.Errorf("postgres: %s: lock: %w", what, err)
	}
	for _, s := range stmts {
		if _, err := tx.Exec(ctx, s); err != nil {
			return fmt.Errorf("postgres: %s: %q: %w", what, firstLine(s), err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: %s: commit: %w", what, err)
	}
	return nil
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " ..."
	}
	return s
}

// prepareAll sets the session to READ COMMITTED and prepares stmts (name →
// SQL) on conn.
func prepareAll(ctx context.Context, conn *pgx.Conn, stmts [][2]string) error {
	if _, err := conn.Exec(ctx, "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ COMMITTED"); err != nil {
		return fmt.Errorf("postgres: set isolation level: %w", err)
	}
	for _, s := range stmts {
		if _, err := conn.Prepare(ctx, s[0], s[1]); err != nil {
			return fmt.Errorf("postgres: prepare %s: %w", s[0], err)
		}
	}
	return nil
}

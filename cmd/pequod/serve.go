package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/pequod-go/pequod/partition"
	"github.com/pequod-go/pequod/reactor"
	"github.com/pequod-go/pequod/wire"
)

// defaultPort is the listen port of a bare -l (spec/server.md §2.2).
const defaultPort = 8000

// serveStopTimeout bounds the graceful shutdown of the reactor.
const serveStopTimeout = 10 * time.Second

// runServe is `pequod serve`: the Pequod server (spec/server.md §2.7 in
// stand-alone mode). It listens, prints "listening on port P" to stderr,
// serves until ctx ends (SIGINT/SIGTERM) or a client sends control
// {"quit": true}, then shuts down cleanly and returns nil. Listening
// failures are returned (non-zero exit).
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	_ = stdout
	errw := &lockedWriter{w: stderr}
	args, err := normalizeServeArgs(args)
	if err != nil {
		return err
	}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(errw)
	fs.Usage = func() {
		fmt.Fprint(errw, "usage: pequod serve [-l=PORT | --listen=PORT | -kl=PORT] [flags]\n\n")
		fs.PrintDefaults()
	}
	var listen string
	fs.StringVar(&listen, "l", strconv.Itoa(defaultPort), "listen on `PORT` (also -l=PORT, -lPORT, --listen=PORT; a bare -l means 8000)")
	fs.StringVar(&listen, "listen", strconv.Itoa(defaultPort), "same as -l")
	var kill bool
	fs.BoolVar(&kill, "k", false, "first stop a server already listening on the port (sends control quit; -kl=PORT combines -k and -l)")
	fs.BoolVar(&kill, "kill", false, "same as -k")
	bind := fs.String("bind", "0.0.0.0", "listen on this local `address`")
	partitions := fs.Int("partitions", runtime.NumCPU(), "number of partitions")
	partfunc := fs.String("partfunc", "default", "partition `function`: default (each table|first-field| group in one partition), twitternew, twitternew-text, twitter, hackernews, unit, original-default (spec/server.md §2.9)")
	loops := fs.Int("loops", runtime.NumCPU(), "number of network event loops")
	logLevel := fs.String("log-level", "info", "log `level` (debug, info, warn, error); logs go to stderr")
	maxFrame := fs.Int("max-frame", wire.DefaultMaxFrameBytes, "largest accepted request in `bytes`; a larger one closes its connection")
	pprofAddr := fs.String("pprof", "", "serve net/http/pprof on this `address` (e.g. 127.0.0.1:6060)")
	peerWait := fs.Duration("peer-wait", partition.DefaultPeerWait, "how long a request may wait for copies of ranges other partitions own before it fails with an error naming them")
	var prof profiling
	prof.register(fs)
	_ = fs.Int("round-robin", 0, "accepted for compatibility and ignored (spec/server.md §1.4)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	port, err := strconv.Atoi(listen)
	if err != nil || port < 0 || port > 65535 {
		return fmt.Errorf("bad port %q", listen)
	}
	if *partitions <= 0 || *loops <= 0 || *maxFrame <= 0 {
		return errors.New("-partitions, -loops and -max-frame must be positive")
	}
	var level zapcore.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("bad -log-level: %w", err)
	}
	encCfg := zap.NewDevelopmentEncoderConfig()
	encCfg.EncodeTime = zapcore.ISO8601TimeEncoder
	log := zap.New(zapcore.NewCore(zapcore.NewConsoleEncoder(encCfg), zapcore.AddSync(errw), level))
	defer func() { _ = log.Sync() }()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	if kill {
		if err := killExisting(ctx, port, errw); err != nil {
			return err
		}
	}

	stopProf, err := prof.start()
	if err != nil {
		return err
	}
	defer func() {
		if err := stopProf(); err != nil {
			log.Warn("profile", zap.Error(err))
		}
	}()

	if *pprofAddr != "" {
		stop, err := servePprof(*pprofAddr, log)
		if err != nil {
			return err
		}
		defer stop()
	}

	srv, err := partition.New(partition.Config{
		PeerWait:    *peerWait,
		Partitions:  *partitions,
		Partitioner: *partfunc,
		Logger:      log,
		OnQuit:      cancel,
	})
	if err != nil {
		return err
	}
	defer srv.Close()

	rs, err := reactor.Start(reactor.Config{
		Addr:          net.JoinHostPort(*bind, strconv.Itoa(port)),
		Loops:         *loops,
		MaxFrameBytes: *maxFrame,
		Logger:        log,
	}, srv)
	if err != nil {
		return err
	}
	if p := rs.Port(); p != 0 {
		port = p
	}
	fmt.Fprintf(errw, "listening on port %d\n", port)
	log.Debug("serving", zap.Int("partitions", *partitions), zap.Int("loops", *loops), zap.Int("max_frame", *maxFrame))

	select {
	case <-ctx.Done():
	case <-rs.Done():
		if err := rs.Err(); err != nil {
			return fmt.Errorf("network engine failed: %w", err)
		}
		return errors.New("network engine stopped unexpectedly")
	}
	log.Info("shutting down")
	sctx, scancel := context.WithTimeout(context.Background(), serveStopTimeout)
	defer scancel()
	if err := rs.Stop(sctx); err != nil {
		return fmt.Errorf("stopping: %w", err)
	}
	srv.Close() // after the reactor: no Dispatch can follow
	return nil
}

// normalizeServeArgs rewrites the original pqserver spellings of the listen
// option into ones the flag package understands: -kl=PORT and -klPORT
// become -k -l=PORT, -lPORT becomes -l=PORT, and a bare -l or --listen takes
// the next argument as its port if it is a number, else means port 8000.
func normalizeServeArgs(args []string) ([]string, error) {
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			out = append(out, args[i:]...)
			break
		}
		if strings.HasPrefix(a, "-kl") {
			out = append(out, "-k")
			a = "-" + a[2:]
		}
		switch {
		case a == "-l" || a == "--l" || a == "-listen" || a == "--listen":
			if i+1 < len(args) && isDigits(args[i+1]) {
				out = append(out, "-l="+args[i+1])
				i++
			} else {
				out = append(out, "-l="+strconv.Itoa(defaultPort))
			}
		case strings.HasPrefix(a, "-l") && isDigits(a[2:]):
			out = append(out, "-l="+a[2:])
		default:
			out = append(out, a)
		}
	}
	return out, nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// killExisting implements -k (spec/server.md §2.7 step 5): if something
// answers on 127.0.0.1:port, send it control {"quit": true} and wait until
// the port refuses connections.
func killExisting(ctx context.Context, port int, stderr io.Writer) error {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return nil // nobody there
	}
	fmt.Fprintf(stderr, "killing existing server on port %d\n", port)
	req := wire.AppendRequestHeader(nil, wire.CmdControl, 1, 1)
	req = wire.AppendMapHeader(req, 1)
	req = wire.AppendBool(wire.AppendString(req, "quit"), true)
	_ = c.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = c.Write(req)
	_ = c.Close()
	delay := 10 * time.Millisecond
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return nil
		}
		_ = c.Close()
		if time.Now().After(deadline) {
			return fmt.Errorf("the server on port %d did not stop", port)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		if delay *= 2; delay > 100*time.Millisecond {
			delay = 100 * time.Millisecond
		}
	}
}

// servePprof serves net/http/pprof on addr until the returned stop is called.
func servePprof(addr string, log *zap.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("pprof: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("pprof server", zap.Error(err))
		}
	}()
	log.Info("pprof listening", zap.Stringer("addr", ln.Addr()))
	return func() {
		_ = hs.Close()
		<-done
	}, nil
}

// lockedWriter serializes writes from the logger and the status lines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

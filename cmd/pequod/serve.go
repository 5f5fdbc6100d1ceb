package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/pequod-go/pequod/partition"
	"github.com/pequod-go/pequod/partition/peer/mesh"
	"github.com/pequod-go/pequod/reactor"
	"github.com/pequod-go/pequod/wire"
)

// defaultPort is the listen port of a bare -l (spec/server.md §2.2).
const defaultPort = 8000

// serveStopTimeout bounds the graceful shutdown of the reactor.
const serveStopTimeout = 10 * time.Second

// minSecretLen is the shortest shared secret -auth-file may hold.
const minSecretLen = 16

// runServe is `pequod serve`: the Pequod server (spec/server.md §2.7 in
// stand-alone mode). It listens, prints "listening on port P" to stderr,
// serves until ctx ends (SIGINT/SIGTERM) or a client sends control
// {"quit": true}, then shuts down cleanly and returns nil. Listening
// failures are returned (non-zero exit).
//
// It listens on loopback unless -bind says otherwise, and refuses to listen
// beyond loopback without a shared secret (-auth-file); with a secret,
// connections authenticate with control {"auth": secret} (see the reactor
// package's Authentication section).
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
	bind := fs.String("bind", "127.0.0.1", "listen on this local `address`; any non-loopback address (0.0.0.0, a LAN address) needs -auth-file")
	authFile := fs.String("auth-file", "", "read the shared secret (at least 16 bytes, trailing whitespace trimmed) from this `file`; connections must then send control {\"auth\": secret} before admin controls, and before anything when not on loopback")
	partitions := fs.Int("partitions", runtime.NumCPU(), "number of partitions")
	partfunc := fs.String("partfunc", "default", "partition `function`: default (each table|first-field| group in one partition), twitternew, twitternew-text, twitter, hackernews, unit, original-default (spec/server.md §2.9)")
	loops := fs.Int("loops", runtime.NumCPU(), "number of network event loops")
	logLevel := fs.String("log-level", "info", "log `level` (debug, info, warn, error); logs go to stderr")
	maxFrame := fs.Int("max-frame", wire.DefaultMaxFrameBytes, "largest accepted request in `bytes`; a larger one closes its connection")
	pprofAddr := fs.String("pprof", "", "serve net/http/pprof on this `address` (e.g. 127.0.0.1:6060)")
	peerWait := fs.Duration("peer-wait", partition.DefaultPeerWait, "how long a request may wait for copies of ranges other partitions own before it fails with an error naming them")
	var cl clusterFlags
	cl.register(fs)
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
	secret, err := loadSecret(*authFile)
	if err != nil {
		return err
	}
	if err := checkExposure(*bind, secret); err != nil {
		return err
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
		if err := killExisting(ctx, killHost(*bind), port, secret, errw); err != nil {
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

	pcfg := partition.Config{
		PeerWait:    *peerWait,
		Partitions:  *partitions,
		Partitioner: *partfunc,
		Logger:      log,
		OnQuit:      cancel,
	}
	rcfg := reactor.Config{
		Addr:          net.JoinHostPort(*bind, strconv.Itoa(port)),
		Loops:         *loops,
		MaxFrameBytes: *maxFrame,
		Logger:        log,
		Secret:        secret,
	}
	var m *mesh.Mesh
	if cl.hostFile != "" {
		m, err = cl.join(ctx, port, secret, log, &pcfg, &rcfg)
		if err != nil {
			return err
		}
		defer m.Close()
	}
	srv, err := partition.New(pcfg)
	if err != nil {
		return err
	}
	defer srv.Close()

	rs, err := reactor.Start(rcfg, srv)
	if err != nil {
		return err
	}
	if m != nil {
		m.Start(ctx) // after the partitions registered and the port listens
		fmt.Fprintf(errw, "server %d of %d (%s); connecting to the others\n", m.Self(), len(cl.hosts), cl.hosts[m.Self()].Addr())
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

// loadSecret reads the shared secret of -auth-file: the file's content
// with trailing whitespace (a final newline) trimmed. No file means no
// secret (nil). An empty secret, or one shorter than minSecretLen bytes,
// is an error.
func loadSecret(path string) ([]byte, error) {
	if path == "" {
		return nil, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("-auth-file: %w", err)
	}
	secret := bytes.TrimRightFunc(data, unicode.IsSpace)
	switch {
	case len(secret) == 0:
		return nil, fmt.Errorf("-auth-file %s: the secret is empty", path)
	case len(secret) < minSecretLen:
		return nil, fmt.Errorf("-auth-file %s: the secret is %d bytes, it must be at least %d", path, len(secret), minSecretLen)
	}
	return secret, nil
}

// checkExposure refuses to listen on bind beyond loopback without a
// secret: anyone who can reach the port could otherwise overwrite any key
// or stop the server.
func checkExposure(bind string, secret []byte) error {
	if len(secret) > 0 || isLoopbackHost(bind) {
		return nil
	}
	return fmt.Errorf("refusing to listen on %q beyond loopback without a shared secret: give -auth-file FILE (clients then send control {%q: SECRET}), or -bind 127.0.0.1", bind, wire.AuthControlKey)
}

// isLoopbackHost tells whether a -bind address is a loopback address
// (127.0.0.0/8, ::1) or "localhost". Anything else, including "" and
// other host names, counts as beyond loopback.
func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"))
	return ip != nil && ip.IsLoopback()
}

// killHost is the address -k looks for an existing server on: the -bind
// address when it names one, else 127.0.0.1 (spec/server.md §2.7 step 5).
func killHost(bind string) string {
	ip := net.ParseIP(strings.TrimSuffix(strings.TrimPrefix(bind, "["), "]"))
	if ip == nil || ip.IsUnspecified() {
		return "127.0.0.1"
	}
	return ip.String()
}

// killExisting implements -k (spec/server.md §2.7 step 5): if something
// answers on host:port, send it control {"quit": true}, preceded by
// control {"auth": secret} when this server has a secret, and wait until
// the port refuses connections. A refused quit (the old server wants a
// secret we do not have, or a different one) is an error.
func killExisting(ctx context.Context, host string, port int, secret []byte, stderr io.Writer) error {
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return nil // nobody there
	}
	fmt.Fprintf(stderr, "killing existing server on port %d\n", port)
	deadline := time.Now().Add(30 * time.Second)
	err = sendQuit(ctx, c, secret, deadline)
	_ = c.Close()
	if err != nil {
		return fmt.Errorf("killing the server on %s: %w", addr, err)
	}
	return waitRefused(ctx, addr, deadline)
}

// killQuitSeq is the seq of -k's quit request (spec/server.md §2.7); its
// auth request, when there is one, is seq 0.
const killQuitSeq = 1

// sendQuit writes -k's requests to c and reads until the server closes the
// connection (it is stopping: a quit is never answered) or answers the
// quit, which only a refusal does; the refusal is returned as an error,
// with the auth reply's message when that failed too. A server that neither
// answers nor closes before deadline (or ctx's end) is left to waitRefused.
func sendQuit(ctx context.Context, c net.Conn, secret []byte, deadline time.Time) error {
	var req []byte
	if len(secret) > 0 {
		req = wire.AppendRequestHeader(req, wire.CmdControl, 0, 1)
		req = wire.AppendMapHeader(req, 1)
		req = wire.AppendString(wire.AppendString(req, wire.AuthControlKey), string(secret))
	}
	req = wire.AppendRequestHeader(req, wire.CmdControl, killQuitSeq, 1)
	req = wire.AppendMapHeader(req, 1)
	req = wire.AppendBool(wire.AppendString(req, "quit"), true)
	_ = c.SetWriteDeadline(time.Now().Add(time.Second))
	if _, err := c.Write(req); err != nil {
		return nil // gone already
	}
	_ = c.SetReadDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = c.SetReadDeadline(time.Now()) })
	defer stop()
	var (
		dec     wire.Decoder
		buf     []byte
		authMsg string
		tmp     = make([]byte, 4096)
	)
	for {
		n, rerr := c.Read(tmp)
		buf = append(buf, tmp[:n]...)
		msgs, used, derr := dec.Decode(buf)
		for _, m := range msgs {
			r, ok := wire.ParseReply(m)
			if !ok || r.Cmd != wire.CmdControl || r.Status == wire.StatusOK {
				continue
			}
			msg := r.Payload.Str()
			if msg == "" {
				msg = fmt.Sprintf("status %d", r.Status)
			}
			switch r.Seq {
			case 0:
				authMsg = msg
			case killQuitSeq:
				if authMsg != "" {
					msg += " (" + authMsg + ")"
				}
				return fmt.Errorf("it refused to quit: %s", msg)
			}
		}
		buf = buf[used:]
		if rerr != nil || derr != nil {
			return nil // closed (stopping), or not a Pequod server: waitRefused decides
		}
	}
}

// waitRefused polls addr, backing off from 10 ms to 100 ms, until it
// refuses connections; it gives up at deadline.
func waitRefused(ctx context.Context, addr string, deadline time.Time) error {
	delay := 10 * time.Millisecond
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return nil
		}
		_ = c.Close()
		if time.Now().After(deadline) {
			return fmt.Errorf("the server on %s did not stop", addr)
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

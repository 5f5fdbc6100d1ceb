// Package memcachetest starts a throw-away memcached for tests through
// loadgen/scripts/memcached.sh.
package memcachetest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
)

// ErrUnavailable is returned by Start when memcached is not installed and
// the script could not install it.
var ErrUnavailable = errors.New("memcachetest: memcached is not available")

// Server is a memcached started by Start.
type Server struct {
	// Addr is the server's address (127.0.0.1:port).
	Addr   string
	port   int
	script string
	runDir string
}

// Script returns the path of loadgen/scripts/memcached.sh.
func Script() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "scripts", "memcached.sh")
}

// Start runs memcached on a free port with its state under runDir (a
// temporary directory the caller owns). It returns an error wrapping
// ErrUnavailable when memcached is missing and cannot be installed.
func Start(runDir string) (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("memcachetest: find a free port: %w", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	s := &Server{Addr: "127.0.0.1:" + strconv.Itoa(port), port: port, script: Script(), runDir: runDir}
	out, err := s.run("start")
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() == 3 {
			return nil, fmt.Errorf("%w: %s", ErrUnavailable, out)
		}
		return nil, fmt.Errorf("memcachetest: %s start: %w: %s", s.script, err, out)
	}
	return s, nil
}

// Stop stops the server.
func (s *Server) Stop() error {
	if out, err := s.run("stop"); err != nil {
		return fmt.Errorf("memcachetest: %s stop: %w: %s", s.script, err, out)
	}
	return nil
}

func (s *Server) run(cmd string) ([]byte, error) {
	c := exec.Command("bash", s.script, cmd, strconv.Itoa(s.port))
	c.Env = append(os.Environ(), "MEMCACHED_RUN_DIR="+s.runDir, "MEMCACHED_MEMORY_MB=64")
	return c.CombinedOutput()
}

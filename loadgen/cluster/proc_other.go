//go:build !unix

package cluster

import (
	"os"
	"os/exec"
)

// configure does nothing: process groups are a Unix notion.
func configure(*exec.Cmd) {}

// terminateGroup kills p (no SIGTERM here).
func terminateGroup(p *os.Process) error { return p.Kill() }

// killGroup kills p.
func killGroup(p *os.Process) error { return p.Kill() }

// terminated is false: there is no SIGTERM here.
func terminated(error) bool { return false }

//go:build unix

package cluster

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
)

// configure puts the child in a process group of its own (its pid is the
// group id) and, where the system has it, asks for it to be killed when
// the launcher dies (setDeathSignal).
func configure(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	setDeathSignal(cmd.SysProcAttr)
}

// terminateGroup sends SIGTERM to p's process group.
func terminateGroup(p *os.Process) error { return syscall.Kill(-p.Pid, syscall.SIGTERM) }

// killGroup sends SIGKILL to p's process group.
func killGroup(p *os.Process) error { return syscall.Kill(-p.Pid, syscall.SIGKILL) }

// terminated reports whether err is the exit of a process ended by
// SIGTERM's default action.
func terminated(err error) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGTERM
}

package cluster

import "syscall"

// setDeathSignal makes Linux SIGKILL the child when the launcher dies
// without stopping it (kill -9): no orphan outlives a crashed launcher.
// (Pdeathsig fires when the creating thread exits; Go threads exit only
// when a goroutine locked to one ends, which the launcher never does.)
func setDeathSignal(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }

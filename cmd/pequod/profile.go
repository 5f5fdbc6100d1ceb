package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
)

// profiling holds the -cpuprofile and -memprofile flags every long-running
// subcommand takes (serve, twitternew, hn, kv). Read the files with
// `go tool pprof`.
type profiling struct {
	cpu, mem string
}

// register adds the flags to fs.
func (p *profiling) register(fs *flag.FlagSet) {
	fs.StringVar(&p.cpu, "cpuprofile", "", "write a CPU profile of the whole run to `file`")
	fs.StringVar(&p.mem, "memprofile", "", "write a heap profile (live objects after a GC) to `file` at the end of the run")
}

// start begins CPU profiling if asked; the returned stop ends it and
// writes the heap profile. stop reports the first error.
func (p *profiling) start() (stop func() error, err error) {
	var cpu *os.File
	if p.cpu != "" {
		cpu, err = os.Create(p.cpu)
		if err != nil {
			return nil, fmt.Errorf("-cpuprofile: %w", err)
		}
		if err := pprof.StartCPUProfile(cpu); err != nil {
			cpu.Close()
			return nil, fmt.Errorf("-cpuprofile: %w", err)
		}
	}
	return func() error {
		var first error
		if cpu != nil {
			pprof.StopCPUProfile()
			if err := cpu.Close(); err != nil {
				first = fmt.Errorf("-cpuprofile: %w", err)
			}
		}
		if p.mem != "" {
			f, err := os.Create(p.mem)
			if err != nil {
				return fmt.Errorf("-memprofile: %w", err)
			}
			runtime.GC()
			if err := pprof.WriteHeapProfile(f); err != nil && first == nil {
				first = fmt.Errorf("-memprofile: %w", err)
			}
			if err := f.Close(); err != nil && first == nil {
				first = fmt.Errorf("-memprofile: %w", err)
			}
		}
		return first
	}, nil
}

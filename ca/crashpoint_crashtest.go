//go:build crashtest

package ca

import (
	"os"
	"syscall"
)

// crashPoint kills the process with SIGKILL when APPLIANCE_CRASH_AT names
// this point ("after-intent" or "after-sign"). Only test builds
// (-tags crashtest) contain this.
func crashPoint(name string) {
	if os.Getenv("APPLIANCE_CRASH_AT") == name {
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way
	}
}

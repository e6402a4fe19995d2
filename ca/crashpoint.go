//go:build !crashtest

package ca

// crashPoint marks a place where a crash must lose nothing. Builds with the
// crashtest tag kill the process here on request (see crashpoint_crashtest.go);
// normal builds do nothing.
func crashPoint(string) {}

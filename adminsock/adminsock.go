// Package adminsock is the local admin channel of the appliance.
//
// While the appliance service (appliance demo or appliance serve) runs it
// holds the bbolt database open, so officer commands (appliance cert issue,
// appliance cert revoke, appliance crl, ...) cannot open the store
// themselves: they send their request over HTTP on a unix socket in the
// state directory instead (see [SocketPath], [Running] and [Client]). When
// no service runs, the CLI opens the store directly.
//
// Access control is layered:
//
//   - [Serve] refuses to listen unless the socket's directory is owned by the
//     server's effective uid and has no group or other permission bits
//     (0700). Nobody else can therefore reach the socket, not even in the
//     short window between bind(2), which creates the file with a
//     umask-dependent mode, and the os.Chmod to 0600 that follows it.
//   - The socket file itself is mode 0600.
//   - Every accepted connection's peer credentials are read with
//     SO_PEERCRED; a peer whose uid is neither the server's effective uid nor
//     0 is closed at once and logged. Handlers can read the credentials with
//     [PeerFromContext].
//
// Errors of the admin API are RFC 9457 problem details ([Problem],
// [WriteProblem], [DecodeResponse]).
package adminsock

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// ErrInUse is returned by Serve when another process already serves the socket.
var ErrInUse = errors.New("adminsock: another appliance process is serving this state directory")

// shutdownGrace bounds the graceful shutdown of Serve.
const shutdownGrace = 10 * time.Second

// SocketPath is the conventional socket path inside a state directory:
// DIR/admin.sock. Note that unix socket paths are limited to 107 bytes.
func SocketPath(stateDir string) string {
	return filepath.Join(stateDir, "admin.sock")
}

// Serve listens on a unix socket at path and serves h until ctx is done, then
// shuts down gracefully (bounded by 10s) and removes the socket file. It
// returns nil after a clean shutdown, and an error if the listener could not
// be set up, serving failed, or in-flight requests outlived the grace period
// (they are then cut off).
//
// The directory of path must be owned by the effective uid and must have mode
// 0700 (no group or other bits); Serve checks this and fails otherwise. The
// socket file gets mode 0600. A stale socket file (nothing listening) is
// removed first; if another process is listening, Serve returns ErrInUse.
// Connections from peers whose uid is neither the effective uid nor 0 are
// closed at once and logged; see the package documentation.
//
// ready, if not nil, is closed once the socket accepts connections. log may
// be nil.
func Serve(ctx context.Context, path string, h http.Handler, log *slog.Logger, ready chan<- struct{}) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := checkDir(filepath.Dir(path)); err != nil {
		return err
	}
	if err := removeStale(path); err != nil {
		return err
	}
	ul, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) { // lost a race with another server
			return ErrInUse
		}
		return fmt.Errorf("adminsock: %w", err)
	}
	// We remove the file ourselves, and only if it is still ours.
	ul.SetUnlinkOnClose(false)
	fi, err := os.Stat(path)
	if err == nil {
		err = os.Chmod(path, 0o600)
	}
	if err != nil {
		ul.Close()
		os.Remove(path)
		return fmt.Errorf("adminsock: %w", err)
	}
	defer func() {
		if cur, err := os.Stat(path); err == nil && os.SameFile(fi, cur) {
			os.Remove(path)
		}
	}()

	self := os.Geteuid()
	pl := &peerListener{UnixListener: ul, log: log, allow: func(p Peer) bool { return allowPeer(p, self) }}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
		ConnContext:       connContext,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(pl) }()
	log.Info("admin socket listening", "path", path)
	if ready != nil {
		close(ready)
	}

	select {
	case err := <-errc: // the listener failed; Serve never returns nil by itself
		return fmt.Errorf("adminsock: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	err = srv.Shutdown(sctx)
	if err != nil {
		srv.Close()
		err = fmt.Errorf("adminsock: graceful shutdown: %w", err)
	}
	<-errc // http.ErrServerClosed
	log.Info("admin socket closed", "path", path)
	return err
}

// checkDir makes sure only the effective uid can reach files in dir.
func checkDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("adminsock: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	switch {
	case !fi.IsDir():
		return fmt.Errorf("adminsock: %s is not a directory", dir)
	case !ok || int(st.Uid) != os.Geteuid():
		return fmt.Errorf("adminsock: directory %s is not owned by uid %d", dir, os.Geteuid())
	case fi.Mode().Perm()&0o077 != 0:
		return fmt.Errorf("adminsock: directory %s has mode %#o, want 0700", dir, fi.Mode().Perm())
	}
	return nil
}

// removeStale removes a socket file at path that nobody listens on. It
// returns ErrInUse if somebody does.
func removeStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("adminsock: %w", err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("adminsock: %s exists and is not a socket", path)
	}
	c, err := net.DialTimeout("unix", path, dialTimeout)
	switch {
	case err == nil:
		c.Close()
		return ErrInUse
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ENOENT):
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("adminsock: removing stale socket: %w", err)
		}
		return nil
	default:
		return fmt.Errorf("adminsock: probing %s: %w", path, err)
	}
}

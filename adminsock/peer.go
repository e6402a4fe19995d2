package adminsock

import (
	"context"
	"fmt"
	"log/slog"
	"net"

	"golang.org/x/sys/unix"
)

// Peer is the process at the other end of an admin connection.
type Peer struct{ UID, GID, PID int }

type peerKey struct{}

// PeerFromContext returns the peer of the connection a request arrived on
// (set by Serve via http.Server.ConnContext).
func PeerFromContext(ctx context.Context) (Peer, bool) {
	p, ok := ctx.Value(peerKey{}).(Peer)
	return p, ok
}

func connContext(ctx context.Context, c net.Conn) context.Context {
	if pc, ok := c.(*peerConn); ok {
		return context.WithValue(ctx, peerKey{}, pc.peer)
	}
	return ctx
}

// allowPeer is the credential check: only the server's own uid and root
// may use the admin socket.
func allowPeer(p Peer, self int) bool {
	return p.UID == self || p.UID == 0
}

// peerCred reads the credentials the peer had when it connected.
func peerCred(c *net.UnixConn) (Peer, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return Peer{}, err
	}
	var cred *unix.Ucred
	var serr error
	if err := raw.Control(func(fd uintptr) {
		cred, serr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return Peer{}, err
	}
	if serr != nil {
		return Peer{}, fmt.Errorf("SO_PEERCRED: %w", serr)
	}
	return Peer{UID: int(cred.Uid), GID: int(cred.Gid), PID: int(cred.Pid)}, nil
}

// peerListener hands out only connections whose peer passes allow.
type peerListener struct {
	*net.UnixListener
	log   *slog.Logger
	allow func(Peer) bool
}

type peerConn struct {
	*net.UnixConn
	peer Peer
}

func (l *peerListener) Accept() (net.Conn, error) {
	for {
		c, err := l.AcceptUnix()
		if err != nil {
			return nil, err
		}
		p, err := peerCred(c)
		switch {
		case err != nil:
			l.log.Warn("admin socket: cannot read peer credentials", "err", err)
		case !l.allow(p):
			l.log.Warn("admin socket: rejected peer", "uid", p.UID, "gid", p.GID, "pid", p.PID)
		default:
			l.log.Debug("admin socket: peer connected", "uid", p.UID, "gid", p.GID, "pid", p.PID)
			return &peerConn{UnixConn: c, peer: p}, nil
		}
		c.Close()
	}
}

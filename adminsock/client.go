package adminsock

import (
	"context"
	"net"
	"net/http"
	"time"
)

// dialTimeout bounds connecting to the admin socket.
const dialTimeout = 2 * time.Second

// Client returns an *http.Client whose transport dials the socket at path;
// requests may use any host, e.g. http://admin/... The client sets no overall
// timeout (signing on an HSM may be slow): bound requests with their context.
// Proxy settings from the environment are ignored.
func Client(path string) *http.Client {
	d := &net.Dialer{Timeout: dialTimeout}
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return d.DialContext(ctx, "unix", path)
		},
		MaxIdleConns:    2,
		IdleConnTimeout: 30 * time.Second,
	}}
}

// Running reports whether a server accepts connections on path (a dial with
// a short timeout succeeds).
func Running(path string) bool {
	c, err := net.DialTimeout("unix", path, dialTimeout)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

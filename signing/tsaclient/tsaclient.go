// Package tsaclient asks a timestamp authority for RFC 3161 timestamps over
// HTTP (application/timestamp-query). Client implements
// signing.Timestamper, for a TSA reached by URL; the appliance's own TSA
// can also be called in-process instead.
package tsaclient

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"time"

	"github.com/digitorus/timestamp"
)

// maxResponse bounds the TSA's answer.
const maxResponse = 64 << 10

// Client is an RFC 3161 client. The zero HTTP means a client with a
// 30-second timeout.
type Client struct {
	URL  string
	HTTP *http.Client
}

// Timestamp requests a token over digest (of kind hash) with a random
// nonce and the TSA certificate included, checks the response (status,
// token signature, message imprint, nonce) and returns the token.
func (c *Client) Timestamp(ctx context.Context, digest []byte, hash crypto.Hash) ([]byte, error) {
	nonce, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		return nil, fmt.Errorf("tsa nonce: %w", err)
	}
	req := timestamp.Request{HashAlgorithm: hash, HashedMessage: digest, Certificates: true, Nonce: nonce}
	body, err := req.Marshal()
	if err != nil {
		return nil, fmt.Errorf("tsa request: %w", err)
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("tsa request: %w", err)
	}
	hreq.Header.Set("Content-Type", "application/timestamp-query")
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := hc.Do(hreq)
	if err != nil {
		return nil, fmt.Errorf("tsa %s: %w", c.URL, err)
	}
	defer resp.Body.Close()
	der, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	switch {
	case err != nil:
		return nil, fmt.Errorf("tsa %s: read response: %w", c.URL, err)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("tsa %s: HTTP %s", c.URL, resp.Status)
	case len(der) > maxResponse:
		return nil, fmt.Errorf("tsa %s: response larger than %d bytes", c.URL, maxResponse)
	}
	ts, err := timestamp.ParseResponse(der)
	if err != nil {
		return nil, fmt.Errorf("tsa %s: %w", c.URL, err)
	}
	if ts.HashAlgorithm != hash || !bytes.Equal(ts.HashedMessage, digest) {
		return nil, errors.New("tsa: the token's message imprint is not the one asked for")
	}
	if ts.Nonce == nil || ts.Nonce.Cmp(nonce) != 0 {
		return nil, errors.New("tsa: the token's nonce is not the one sent")
	}
	return ts.RawToken, nil
}

package hsm

import (
	"fmt"
	"io"
)

// Random returns the token's random number generator as an io.Reader.
// Reads go through the token's session pool and survive reconnects.
func (t *Token) Random() io.Reader { return tokenRand{t} }

type tokenRand struct{ t *Token }

func (r tokenRand) Read(p []byte) (int, error) {
	var n int
	err := r.t.run("random", true, func(cn conn) error {
		rr, err := cn.c.NewRandomReader()
		if err != nil {
			return err
		}
		n, err = io.ReadFull(rr, p)
		return err
	})
	if err != nil {
		return n, fmt.Errorf("read token RNG: %w", err)
	}
	return n, nil
}

package hsm

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/ThalesGroup/crypto11"
	"github.com/miekg/pkcs11"
)

// Signer is a crypto.Signer whose private key stays on the token. It
// survives reconnects: after the sessions are re-opened it finds its key
// again and checks that the public key has not changed.
type Signer struct {
	tok *Token
	uri URI
	pub crypto.PublicKey

	mu  sync.Mutex
	key crypto11.Signer
	gen uint64
}

// Signer finds the key pair named by u on the token.
func (t *Token) Signer(ctx context.Context, u URI) (*Signer, error) {
	if err := t.checkTokenOf(u); err != nil {
		return nil, err
	}
	if u.Type != "" && u.Type != "private" {
		return nil, fmt.Errorf("%s: type=%s cannot sign; use type=private or leave type out", u, u.Type)
	}
	s := &Signer{tok: t, uri: u}
	err := t.run("find_key", true, func(cn conn) error {
		k, err := findPair(cn, u)
		if err != nil {
			return err
		}
		// Complete the URI with the key's CKA_ID and label, so that
		// transcripts and reconnects name exactly this key.
		set, err := cn.c.GetAttributes(k, []crypto11.AttributeType{pkcs11.CKA_ID, pkcs11.CKA_LABEL})
		if err != nil {
			return err
		}
		if a := set[pkcs11.CKA_ID]; a != nil && len(a.Value) > 0 {
			s.uri.ID = append([]byte(nil), a.Value...)
		}
		if a := set[pkcs11.CKA_LABEL]; a != nil && len(a.Value) > 0 {
			s.uri.Object = string(a.Value)
		}
		s.key, s.gen, s.pub = k, cn.gen, k.Public()
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("find signing key on token %s: %w", t.name, err)
	}
	return s, nil
}

// URI names the signer's key.
func (s *Signer) URI() URI { return s.uri }

// Public returns the public half of the key, read once when it was found.
func (s *Signer) Public() crypto.PublicKey { return s.pub }

// Sign signs digest on the token. rand is ignored: the token supplies any
// randomness the mechanism needs.
func (s *Signer) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	var sig []byte
	err := s.tok.run("sign", true, func(cn conn) error {
		k, err := s.keyFor(cn)
		if err != nil {
			return err
		}
		sig, err = k.Sign(nil, digest, opts)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sign with %s: %w", s.uri, err)
	}
	return sig, nil
}

// keyFor returns the key handle valid for connection cn.
func (s *Signer) keyFor(cn conn) (crypto11.Signer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.key != nil && s.gen == cn.gen {
		return s.key, nil
	}
	k, err := findPair(cn, s.uri)
	if errors.Is(err, ErrKeyNotFound) {
		// The key was there before: private objects vanish when the token
		// logs out (another application, a reset), so log in again.
		return nil, fmt.Errorf("%w: key %s is no longer visible, probably a logout: %w", ErrSessionLost, s.uri, err)
	}
	if err != nil {
		return nil, err
	}
	type equaler interface{ Equal(crypto.PublicKey) bool }
	if eq, ok := s.pub.(equaler); !ok || !eq.Equal(k.Public()) {
		return nil, errors.New("the key found after reconnecting has a different public key: refusing to sign")
	}
	s.key, s.gen = k, cn.gen
	return k, nil
}

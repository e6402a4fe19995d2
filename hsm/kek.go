package hsm

import (
	"context"
	"crypto/cipher"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/ThalesGroup/crypto11"
)

// ErrDecrypt means a sealed value failed authentication: it was altered,
// sealed under another key or with other additional data.
var ErrDecrypt = errors.New("sealed data failed authentication (wrong key, wrong context or tampered ciphertext)")

// KEK seals and opens small values with an AES-256 key on the token using
// AES-GCM. The 12-byte nonce comes from the token RNG and is prepended to
// the ciphertext.
type KEK struct {
	tok *Token
	uri URI

	mu   sync.Mutex
	aead cipher.AEAD
	gen  uint64
}

// KEK finds the AES key named by u.
func (t *Token) KEK(ctx context.Context, u URI) (*KEK, error) {
	if err := t.checkTokenOf(u); err != nil {
		return nil, err
	}
	k := &KEK{tok: t, uri: u}
	if err := t.run("find_key", true, func(cn conn) error { _, err := k.aeadFor(cn); return err }); err != nil {
		return nil, fmt.Errorf("find KEK on token %s: %w", t.name, err)
	}
	return k, nil
}

func (k *KEK) aeadFor(cn conn) (cipher.AEAD, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.aead != nil && k.gen == cn.gen {
		return k.aead, nil
	}
	key, err := findSecret(cn, k.uri)
	if errors.Is(err, ErrKeyNotFound) && k.aead != nil {
		// Found before: a logout hides private objects; log in again.
		return nil, fmt.Errorf("%w: key %s is no longer visible, probably a logout: %w", ErrSessionLost, k.uri, err)
	}
	if err != nil {
		return nil, err
	}
	if key.Cipher != crypto11.CipherAES {
		return nil, fmt.Errorf("%s is not an AES key: %w", k.uri, ErrKeyTypeUnsupported)
	}
	a, err := key.NewGCM()
	if err != nil {
		return nil, err
	}
	k.aead, k.gen = a, cn.gen
	return a, nil
}

// Seal encrypts plaintext bound to aad and returns nonce||ciphertext||tag.
func (k *KEK) Seal(plaintext, aad []byte) ([]byte, error) {
	nonce := make([]byte, gcmNonceSize)
	if _, err := io.ReadFull(k.tok.Random(), nonce); err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	var out []byte
	err := k.tok.run("seal", true, func(cn conn) (err error) {
		a, err := k.aeadFor(cn)
		if err != nil {
			return err
		}
		// crypto11's Seal panics on a token error (cipher.AEAD has no error
		// return); turn that back into an error and probe the token so a
		// lost session is classified and triggers a reconnect.
		defer func() {
			if r := recover(); r != nil {
				err = k.probe(cn, fmt.Errorf("AES-GCM encrypt: %v", r))
			}
		}()
		out = a.Seal(append([]byte(nil), nonce...), nonce, plaintext, aad)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("seal with %s: %w", k.uri, err)
	}
	return out, nil
}

// Open authenticates and decrypts a value made by Seal with the same aad.
func (k *KEK) Open(sealed, aad []byte) ([]byte, error) {
	if len(sealed) < gcmNonceSize+16 {
		return nil, fmt.Errorf("open with %s: sealed value too short: %w", k.uri, ErrDecrypt)
	}
	nonce, ct := sealed[:gcmNonceSize], sealed[gcmNonceSize:]
	var out []byte
	err := k.tok.run("open", true, func(cn conn) error {
		a, err := k.aeadFor(cn)
		if err != nil {
			return err
		}
		out, err = a.Open(nil, nonce, ct, aad)
		if err != nil {
			return k.probe(cn, err)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("open with %s: %w", k.uri, err)
	}
	return out, nil
}

// probe tells a failed AES-GCM call's cause apart: crypto11 flattens the
// PKCS#11 code into text, so ask the token for one random byte. If that
// fails too, its (classified) error is returned so the caller reconnects;
// otherwise the data was at fault.
func (k *KEK) probe(cn conn, opErr error) error {
	rr, err := cn.c.NewRandomReader()
	if err == nil {
		_, err = rr.Read(make([]byte, 1))
	}
	if err != nil {
		return fmt.Errorf("%v (token check: %w)", opErr, err)
	}
	return fmt.Errorf("%v: %w", opErr, ErrDecrypt)
}

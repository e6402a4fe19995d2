package hsm

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"

	"github.com/ThalesGroup/crypto11"
	"github.com/miekg/pkcs11"
)

// Algorithm names a key type this product generates.
type Algorithm string

// The key algorithms of the appliance.
const (
	ECDSAP256 Algorithm = "ecdsa-p256"
	ECDSAP384 Algorithm = "ecdsa-p384"
	RSA3072   Algorithm = "rsa-3072"
	AES256    Algorithm = "aes-256"
)

// Algorithms lists every Algorithm, for messages and validation.
var Algorithms = []Algorithm{ECDSAP256, ECDSAP384, RSA3072, AES256}

// ParseAlgorithm checks s against Algorithms.
func ParseAlgorithm(s string) (Algorithm, error) {
	for _, a := range Algorithms {
		if string(a) == s {
			return a, nil
		}
	}
	return "", fmt.Errorf("unknown key algorithm %q (use one of %v): %w", s, Algorithms, ErrKeyTypeUnsupported)
}

// IsSymmetric reports whether a is a secret-key algorithm.
func (a Algorithm) IsSymmetric() bool { return a == AES256 }

// idLength is the size of the CKA_ID values drawn from the token RNG.
const idLength = 16

// GenerateKeyPair generates a key pair labelled label on the token. The
// private key is a token object with CKA_PRIVATE, CKA_SENSITIVE and
// !CKA_EXTRACTABLE; CKA_ID comes from the token RNG. A label already used
// by any key on the token is refused with ErrLabelExists and nothing is
// created. It returns a Signer and the key's URI.
func (t *Token) GenerateKeyPair(ctx context.Context, label string, alg Algorithm) (*Signer, URI, error) {
	if alg.IsSymmetric() {
		return nil, URI{}, fmt.Errorf("generate key pair %q: %s is a secret-key algorithm: %w", label, alg, ErrKeyTypeUnsupported)
	}
	if _, err := ParseAlgorithm(string(alg)); err != nil {
		return nil, URI{}, err
	}
	var signer crypto11.Signer
	var id []byte
	err := t.generate(ctx, label, func(cn conn, ident []byte) error {
		id = ident
		pub, priv := keyTemplates(ident, label)
		var err error
		switch alg {
		case ECDSAP256:
			signer, err = cn.c.GenerateECDSAKeyPairWithAttributes(pub, priv, elliptic.P256())
		case ECDSAP384:
			signer, err = cn.c.GenerateECDSAKeyPairWithAttributes(pub, priv, elliptic.P384())
		case RSA3072:
			signer, err = cn.c.GenerateRSAKeyPairWithAttributes(pub, priv, 3072)
		}
		return err
	})
	if err != nil {
		return nil, URI{}, fmt.Errorf("generate %s key %q on token %s: %w", alg, label, t.name, err)
	}
	uri := t.keyURI(label, id, "private")
	s := &Signer{tok: t, uri: uri, pub: signer.Public()}
	return s, uri, nil
}

// GenerateSecretKey generates an AES-256 key (the KEK) labelled label, with
// the same protections as GenerateKeyPair, usable for encrypt, decrypt,
// wrap and unwrap only.
func (t *Token) GenerateSecretKey(ctx context.Context, label string) (URI, error) {
	var id []byte
	err := t.generate(ctx, label, func(cn conn, ident []byte) error {
		id = ident
		tmpl, err := crypto11.NewAttributeSetWithIDAndLabel(ident, []byte(label))
		if err != nil {
			return err
		}
		tmpl.AddIfNotPresent([]*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
			pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
			pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
			pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
			pkcs11.NewAttribute(pkcs11.CKA_ENCRYPT, true),
			pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, true),
			pkcs11.NewAttribute(pkcs11.CKA_WRAP, true),
			pkcs11.NewAttribute(pkcs11.CKA_UNWRAP, true),
		})
		_, err = cn.c.GenerateSecretKeyWithAttributes(tmpl, 256, crypto11.CipherAES)
		return err
	})
	if err != nil {
		return URI{}, fmt.Errorf("generate AES-256 key %q on token %s: %w", label, t.name, err)
	}
	return t.keyURI(label, id, "secret-key"), nil
}

// generate checks that label is free, draws a CKA_ID from the token RNG and
// calls gen. Generation is never retried automatically: after a lost
// session it is not known whether the object was created.
func (t *Token) generate(ctx context.Context, label string, gen func(conn, []byte) error) error {
	if label == "" {
		return errors.New("a key label is required")
	}
	t.genMu.Lock()
	defer t.genMu.Unlock()
	exists, err := t.labelExists(label)
	if err != nil {
		return err
	}
	if exists {
		return ErrLabelExists
	}
	id := make([]byte, idLength)
	if _, err := io.ReadFull(t.Random(), id); err != nil {
		return fmt.Errorf("draw CKA_ID from the token RNG: %w", err)
	}
	if err := t.run("generate_key", false, func(cn conn) error { return gen(cn, id) }); err != nil {
		return err
	}
	t.mod.log.InfoContext(ctx, "key generated", "token", t.name, "label", label, "id", fmt.Sprintf("%x", id))
	return nil
}

func keyTemplates(id []byte, label string) (pub, priv crypto11.AttributeSet) {
	pub, _ = crypto11.NewAttributeSetWithIDAndLabel(id, []byte(label))
	pub.AddIfNotPresent([]*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, false),
		pkcs11.NewAttribute(pkcs11.CKA_VERIFY, true),
		pkcs11.NewAttribute(pkcs11.CKA_ENCRYPT, false),
		pkcs11.NewAttribute(pkcs11.CKA_WRAP, false),
	})
	priv = pub.Copy()
	priv.Unset(pkcs11.CKA_VERIFY)
	priv.Unset(pkcs11.CKA_ENCRYPT)
	priv.Unset(pkcs11.CKA_WRAP)
	_ = priv.Set(pkcs11.CKA_PRIVATE, true)
	priv.AddIfNotPresent([]*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_SIGN, true),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
		pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, false),
		pkcs11.NewAttribute(pkcs11.CKA_UNWRAP, false),
		pkcs11.NewAttribute(pkcs11.CKA_DERIVE, false),
	})
	return pub, priv
}

// LabelExists reports whether any key (pair or secret) on the token
// carries label.
func (t *Token) LabelExists(ctx context.Context, label string) (bool, error) {
	return t.labelExists(label)
}

// labelExists reports whether any key object on the token carries label.
func (t *Token) labelExists(label string) (bool, error) {
	var found bool
	err := t.run("find_key", true, func(cn conn) error {
		pairs, err := cn.c.FindKeyPairs(nil, []byte(label))
		if err != nil {
			return err
		}
		secrets, err := cn.c.FindKeys(nil, []byte(label))
		if err != nil {
			return err
		}
		found = len(pairs)+len(secrets) > 0
		return nil
	})
	return found, err
}

func (t *Token) keyURI(label string, id []byte, typ string) URI {
	return URI{Token: t.sel.Token, Object: label, ID: append([]byte(nil), id...), Type: typ}
}

// checkTokenOf refuses a URI that names another token than t.
func (t *Token) checkTokenOf(u URI) error {
	if (u.Token != "" && u.Token != t.sel.Token) || (u.Serial != "" && u.Serial != t.sel.Serial) {
		return fmt.Errorf("key %s is not on token %s (serial %s)", u, t.sel.Token, t.sel.Serial)
	}
	if !u.HasObject() {
		return fmt.Errorf("the URI %s names no key: add object=LABEL or id=%%XX...", u)
	}
	return nil
}

// findPair finds the one key pair matching u.
func findPair(cn conn, u URI) (crypto11.Signer, error) {
	id, label := nilIfEmpty(u.ID), nilIfEmpty([]byte(u.Object))
	pairs, err := cn.c.FindKeyPairs(id, label)
	if err != nil {
		return nil, err
	}
	switch len(pairs) {
	case 0:
		return nil, fmt.Errorf("%s: %w", u, ErrKeyNotFound)
	case 1:
	default:
		return nil, fmt.Errorf("%s: %w", u, ErrKeyAmbiguous)
	}
	if err := checkSigningKey(pairs[0].Public()); err != nil {
		return nil, fmt.Errorf("%s: %w", u, err)
	}
	return pairs[0], nil
}

func checkSigningKey(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P256() || k.Curve == elliptic.P384() {
			return nil
		}
		return fmt.Errorf("ECDSA curve %s: %w", k.Curve.Params().Name, ErrKeyTypeUnsupported)
	case *rsa.PublicKey:
		if k.N.BitLen() >= 2048 {
			return nil
		}
		return fmt.Errorf("RSA-%d: %w", k.N.BitLen(), ErrKeyTypeUnsupported)
	}
	return fmt.Errorf("%T: %w", pub, ErrKeyTypeUnsupported)
}

func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// KeyAttributes are the protection attributes of a private or secret key.
type KeyAttributes struct {
	Token, Private, Sensitive, AlwaysSensitive, Extractable, NeverExtractable bool
}

// Protected reports whether the key can never leave the token in clear.
func (a KeyAttributes) Protected() bool {
	return a.Token && a.Private && a.Sensitive && a.AlwaysSensitive && !a.Extractable && a.NeverExtractable
}

// Attributes reads the protection attributes of the private or secret key
// named by u back from the token.
func (t *Token) Attributes(ctx context.Context, u URI) (KeyAttributes, error) {
	if err := t.checkTokenOf(u); err != nil {
		return KeyAttributes{}, err
	}
	var out KeyAttributes
	err := t.run("get_attributes", true, func(cn conn) error {
		key, err := findAnyKey(cn, u)
		if err != nil {
			return err
		}
		types := []crypto11.AttributeType{pkcs11.CKA_TOKEN, pkcs11.CKA_PRIVATE, pkcs11.CKA_SENSITIVE, pkcs11.CKA_ALWAYS_SENSITIVE, pkcs11.CKA_EXTRACTABLE, pkcs11.CKA_NEVER_EXTRACTABLE}
		set, err := cn.c.GetAttributes(key, types)
		if err != nil {
			return err
		}
		b := func(ty crypto11.AttributeType) bool {
			a := set[ty]
			return a != nil && len(a.Value) == 1 && a.Value[0] != 0
		}
		out = KeyAttributes{
			Token: b(pkcs11.CKA_TOKEN), Private: b(pkcs11.CKA_PRIVATE), Sensitive: b(pkcs11.CKA_SENSITIVE),
			AlwaysSensitive: b(pkcs11.CKA_ALWAYS_SENSITIVE), Extractable: b(pkcs11.CKA_EXTRACTABLE),
			NeverExtractable: b(pkcs11.CKA_NEVER_EXTRACTABLE),
		}
		return nil
	})
	return out, err
}

// findAnyKey finds a key pair or, failing that, a secret key matching u.
func findAnyKey(cn conn, u URI) (any, error) {
	if u.Type != "secret-key" {
		pair, err := findPair(cn, u)
		if err == nil || !errors.Is(err, ErrKeyNotFound) || u.Type == "private" {
			return pair, err
		}
	}
	return findSecret(cn, u)
}

func findSecret(cn conn, u URI) (*crypto11.SecretKey, error) {
	keys, err := cn.c.FindKeys(nilIfEmpty(u.ID), nilIfEmpty([]byte(u.Object)))
	if err != nil {
		return nil, err
	}
	switch len(keys) {
	case 0:
		return nil, fmt.Errorf("%s: %w", u, ErrKeyNotFound)
	case 1:
		return keys[0], nil
	}
	return nil, fmt.Errorf("%s: %w", u, ErrKeyAmbiguous)
}

// AlgorithmOf names the algorithm of a public key, or "" if it is not one
// this product generates.
func AlgorithmOf(pub crypto.PublicKey) Algorithm {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return ECDSAP256
		case elliptic.P384():
			return ECDSAP384
		}
	case *rsa.PublicKey:
		if k.N.BitLen() == 3072 {
			return RSA3072
		}
	}
	return ""
}

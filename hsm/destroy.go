package hsm

import (
	"context"
	"fmt"

	"github.com/miekg/pkcs11"
)

// DestroyKeyPair destroys the private and the public key object of the one
// key pair named by u (object= and/or id=). A URI that matches no key pair
// fails with ErrKeyNotFound, one that matches more than one with
// ErrKeyAmbiguous; nothing is destroyed then. Certificate objects stored
// with the key (StoreCertificate) are left on the token.
//
// It is how a revoked subscriber's key is made unusable. It finds the pair
// by scanning the token (C_FindObjects); subscriber keys on a large users
// token are destroyed faster through SubscriberKeys.Destroy, which also
// keeps its index right. A SubscriberKeys on the same token notices a key
// destroyed here at the key's next use.
//
// It is not retried after a lost session (whether the objects were
// destroyed is then unknown): call it again, and ErrKeyNotFound then means
// the first call destroyed the pair.
func (t *Token) DestroyKeyPair(ctx context.Context, u URI) error {
	if err := t.checkTokenOf(u); err != nil {
		return err
	}
	if u.Type != "" && u.Type != "private" && u.Type != "public" {
		return fmt.Errorf("destroy key pair %s: type=%s is not a key pair; use type=private or leave type out", u, u.Type)
	}
	var id []byte
	err := t.run("destroy_key", false, func(cn conn) error {
		pairs, err := cn.c.FindKeyPairs(nilIfEmpty(u.ID), nilIfEmpty([]byte(u.Object)))
		if err != nil {
			return err
		}
		switch len(pairs) {
		case 0:
			return fmt.Errorf("%s: %w", u, ErrKeyNotFound)
		case 1:
		default:
			return fmt.Errorf("%s: %d key pairs match: %w", u, len(pairs), ErrKeyAmbiguous)
		}
		if a, err := cn.c.GetAttribute(pairs[0], pkcs11.CKA_ID); err == nil && a != nil {
			id = a.Value
		}
		// Delete destroys the private half first: once it is gone the key
		// cannot sign, even if destroying the public half then fails.
		return pairs[0].Delete()
	})
	if err != nil {
		return fmt.Errorf("destroy key pair on token %s: %w", t.name, err)
	}
	t.mod.log.InfoContext(ctx, "key pair destroyed", "token", t.name, "label", u.Object, "id", fmt.Sprintf("%x", id))
	return nil
}

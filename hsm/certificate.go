package hsm

import (
	"context"
	"crypto"
	"crypto/x509"
	"fmt"
)

// StoreCertificate stores cert on the token as a certificate object with
// the CKA_ID and CKA_LABEL of the key named by u, after checking that the
// certificate is for that key.
func (t *Token) StoreCertificate(ctx context.Context, u URI, cert *x509.Certificate) error {
	s, err := t.Signer(ctx, u)
	if err != nil {
		return err
	}
	eq, ok := s.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !eq.Equal(cert.PublicKey) {
		return fmt.Errorf("store certificate: it is not for key %s", u)
	}
	id := s.URI().ID
	if len(id) == 0 {
		return fmt.Errorf("store certificate: key %s has no CKA_ID in its URI; name it with id=", u)
	}
	return t.run("store_certificate", false, func(cn conn) error {
		return cn.c.ImportCertificateWithLabel(id, []byte(u.Object), cert)
	})
}

package signing

import (
	"fmt"
	"time"

	"golang.org/x/crypto/ocsp"
)

// ocspSkew is how far the signing time may be before the response's
// thisUpdate (clock differences between the responder and this host).
const ocspSkew = 5 * time.Minute

// checkOCSP checks o.OCSP, when given, before anything is signed: it must
// be a response for o.Certificate signed by its issuer o.Chain[0] (or a
// responder that issuer delegated to), say "good", and be current at
// o.SigningTime. A revoked or unknown certificate is refused (ErrRevoked).
func checkOCSP(o *Options) error {
	if len(o.OCSP) == 0 {
		return nil
	}
	if len(o.Chain) == 0 {
		return fmt.Errorf("signing: the issuing CA certificate (Chain[0]) is needed to check the OCSP response")
	}
	resp, err := ocsp.ParseResponseForCert(o.OCSP, o.Certificate, o.Chain[0])
	if err != nil {
		return fmt.Errorf("signing: the OCSP response for the signer certificate: %w", err)
	}
	switch resp.Status {
	case ocsp.Good:
	case ocsp.Revoked:
		return fmt.Errorf("%w: revoked at %s", ErrRevoked, resp.RevokedAt.Format(time.RFC3339))
	default:
		return fmt.Errorf("%w: OCSP status %d", ErrRevoked, resp.Status)
	}
	if o.SigningTime.Before(resp.ThisUpdate.Add(-ocspSkew)) ||
		(!resp.NextUpdate.IsZero() && o.SigningTime.After(resp.NextUpdate)) {
		return fmt.Errorf("signing: the OCSP response (%s to %s) is not current at %s",
			resp.ThisUpdate.Format(time.RFC3339), resp.NextUpdate.Format(time.RFC3339), o.SigningTime.Format(time.RFC3339))
	}
	return nil
}

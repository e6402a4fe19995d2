package signing

import (
	"context"
	"crypto/x509"
	"encoding/asn1"
	"strings"
	"testing"
)

// TestPopplerAndDocumentSigningEKU records a measured limit of the pdfsig
// that Debian 12 ships (poppler 22.12 on NSS): a certificate whose only
// EKU is id-kp-documentSigning is not trusted; with emailProtection beside
// it, or with no EKU, it is. If the first case starts passing, a newer
// poppler accepts documentSigning alone.
func TestPopplerAndDocumentSigningEKU(t *testing.T) {
	p := newPKI(t)
	for _, c := range []struct {
		name    string
		eku     []x509.ExtKeyUsage
		other   []asn1.ObjectIdentifier
		trusted bool
	}{
		{"documentSigning only", nil, []asn1.ObjectIdentifier{oidDocumentSigning}, false},
		{"documentSigning and emailProtection", []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}, []asn1.ObjectIdentifier{oidDocumentSigning}, true},
		{"no EKU", nil, nil, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			key := newKey(t)
			calls := 0
			out, err := Sign(context.Background(), makePDF(a4("EKU")), Options{
				Signer: key, Certificate: p.subscriberEKU(t, key.Public(), c.name, c.eku, c.other...),
				Chain: []*x509.Certificate{p.ca, p.root}, Timestamper: p.timestamper(&calls),
			})
			if err != nil {
				t.Fatal(err)
			}
			report := pdfsig(t, out, p.root)
			wantAll(t, "pdfsig", report, "Signature is Valid.")
			if got := strings.Contains(report, "Certificate is Trusted."); got != c.trusted {
				t.Errorf("trusted %v, want %v:\n%s", got, c.trusted, report)
			}
		})
	}
}

package main

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"sync"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
	xocsp "golang.org/x/crypto/ocsp"

	"github.com/psre/appliance/ca"
	"github.com/psre/appliance/ca/ocsp"
	"github.com/psre/appliance/ca/tsa"
	"github.com/psre/appliance/enrollment"
	"github.com/psre/appliance/hsm"
	"github.com/psre/appliance/signing"
)

// Document signing (seed step 21): the enrollment service authorises a
// signature (password and an SMS code bound to the document) and calls
// documentSigner, which signs with the subscriber's key on the users
// token, embeds the OCSP response for the certificate and timestamps the
// signature with the appliance's own TSA, in process.

// errNoTSA refuses a signature when the appliance has no TSA: every
// signature is timestamped (PAdES B-T), none is made without.
var errNoTSA = errors.New("document signing needs the timestamp authority (PKI/tsa.pem, the tsa ceremony): every signature is timestamped")

// signReason is the /Reason of every signature.
const signReason = "Tanda tangan elektronik"

// documentSigner implements enrollment.DocumentSigner.
type documentSigner struct {
	keys   *hsm.SubscriberKeys
	issuer *x509.Certificate   // the issuing CA, for the OCSP request
	chain  []*x509.Certificate // issuing CA, root
	ocsp   *ocsp.Responder     // nil: no OCSP response embedded
	tsa    *tsa.Responder      // nil: signing is refused
	log    *slog.Logger
}

// startSigning enables document signing on the service when the TSA
// exists; without it the portal says signing is unavailable.
func (st *state) startSigning(resp *ocsp.Responder, stamps *tsa.Responder) error {
	if stamps == nil {
		st.log.Warn("document signing is disabled: " + errNoTSA.Error())
		return nil
	}
	return st.enroll.WithSigning(&documentSigner{keys: st.subKeys, issuer: st.certs["issuing"],
		chain: []*x509.Certificate{st.certs["issuing"], st.certs["root"]}, ocsp: resp, tsa: stamps, log: st.log})
}

// wib is Jakarta time (UTC+7, no daylight saving), for the visible text.
var wib = time.FixedZone("WIB", 7*60*60)

// SignPDF signs r.PDF with the subscriber's key r.KeyLabel and returns the
// signed file and the serial (lower-case hex) of its timestamp token.
func (d *documentSigner) SignPDF(ctx context.Context, r enrollment.SignRequest) ([]byte, string, error) {
	if d.tsa == nil {
		return nil, "", errNoTSA
	}
	cert, err := x509.ParseCertificate(r.Certificate)
	if err != nil {
		return nil, "", fmt.Errorf("the subscriber's certificate: %w", err)
	}
	key, err := d.keys.Signer(ctx, r.KeyLabel)
	if err != nil {
		return nil, "", fmt.Errorf("the subscriber's key %s: %w", r.KeyLabel, err)
	}
	var mu sync.Mutex
	var serial string
	stamper := signing.TimestamperFunc(func(ctx context.Context, digest []byte, hash crypto.Hash) ([]byte, error) {
		token, err := d.tsa.Timestamp(ctx, digest, hash, nil)
		if err != nil {
			return nil, err
		}
		s, err := tokenSerial(token)
		if err != nil {
			return nil, err
		}
		mu.Lock()
		serial = ca.SerialHex(s)
		mu.Unlock()
		return token, nil
	})
	signed, err := signing.Sign(ctx, r.PDF, signing.Options{Signer: key, Certificate: cert, Chain: d.chain,
		OCSP: d.ocspFor(ctx, cert), Timestamper: stamper, Name: r.Name, Reason: signReason, SigningTime: r.Time,
		Visible: &signing.Appearance{Page: r.Page, Rect: r.Rect, Specimen: r.Specimen,
			Lines: []string{r.Name, r.Time.In(wib).Format("2006-01-02 15:04 WIB")}}})
	if err != nil {
		return nil, "", err
	}
	mu.Lock()
	defer mu.Unlock()
	if serial == "" {
		return nil, "", errors.New("the signature carries no timestamp")
	}
	return signed, serial, nil
}

// ocspFor is the responder's (normally pre-signed) response for cert, or
// nil when there is none to embed; signing.Sign refuses a response that
// says revoked or unknown.
func (d *documentSigner) ocspFor(ctx context.Context, cert *x509.Certificate) []byte {
	if d.ocsp == nil {
		return nil
	}
	req, err := xocsp.CreateRequest(cert, d.issuer, &xocsp.RequestOptions{Hash: crypto.SHA1})
	if err == nil {
		var resp []byte
		if resp, _, err = d.ocsp.Respond(ctx, req); err == nil {
			if _, err = xocsp.ParseResponseForCert(resp, cert, d.issuer); err == nil {
				return resp
			}
		}
	}
	d.log.WarnContext(ctx, "no OCSP response to embed in the signature", "serial", ca.SerialHex(cert.SerialNumber), "error", err)
	return nil
}

// tokenSerial reads the serialNumber of the TSTInfo inside an RFC 3161
// TimeStampToken: ContentInfo { id-signedData, [0] SignedData { version,
// digestAlgorithms, encapContentInfo { id-ct-TSTInfo, [0] OCTET STRING
// TSTInfo { version, policy, messageImprint, serialNumber, ... } } } }.
func tokenSerial(token []byte) (*big.Int, error) {
	in := cryptobyte.String(token)
	var ci, sd, encap, tst, info, skip cryptobyte.String
	var eContent cryptobyte.String
	var version int
	serial := new(big.Int)
	ok := in.ReadASN1(&ci, cbasn1.SEQUENCE) && ci.SkipASN1(cbasn1.OBJECT_IDENTIFIER) &&
		ci.ReadASN1(&sd, cbasn1.Tag(0).Constructed().ContextSpecific()) && sd.ReadASN1(&sd, cbasn1.SEQUENCE) &&
		sd.ReadASN1Integer(&version) && sd.SkipASN1(cbasn1.SET) && sd.ReadASN1(&encap, cbasn1.SEQUENCE) &&
		encap.SkipASN1(cbasn1.OBJECT_IDENTIFIER) && encap.ReadASN1(&eContent, cbasn1.Tag(0).Constructed().ContextSpecific()) &&
		eContent.ReadASN1(&tst, cbasn1.OCTET_STRING) && tst.ReadASN1(&info, cbasn1.SEQUENCE) &&
		info.ReadASN1Integer(&version) && info.SkipASN1(cbasn1.OBJECT_IDENTIFIER) && info.ReadASN1(&skip, cbasn1.SEQUENCE) &&
		info.ReadASN1Integer(serial)
	if !ok || serial.Sign() <= 0 {
		return nil, fmt.Errorf("%w: no TSTInfo serial number in the token", signing.ErrTimestamp)
	}
	return serial, nil
}

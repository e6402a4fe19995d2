package ca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"net/mail"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/idna"
)

// Profile names a certificate profile.
type Profile string

// The profiles of the appliance.
const (
	// ProfileIndividual is the subscriber's document-signing certificate.
	ProfileIndividual Profile = "individual"
	// ProfileOfficer is an officer's client-authentication certificate.
	ProfileOfficer Profile = "officer"
	// ProfileTLS is a server certificate for the appliance's own listeners.
	ProfileTLS Profile = "tls"
)

// ErrBadRequest is wrapped by every refusal of a request's content.
var ErrBadRequest = errors.New("certificate request refused")

// OIDDocumentSigning is id-kp-documentSigning (RFC 9336).
var OIDDocumentSigning = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 36}

// Request is what a face asks the CA to certify.
type Request struct {
	Profile   Profile
	PublicKey crypto.PublicKey
	// Name is the subject's name as on the KTP (individual, officer).
	Name      string
	GivenName string
	Surname   string
	// SubscriberID identifies the subscriber without the NIK (individual).
	SubscriberID string
	Email        string   // individual: required; officer: optional
	DNSNames     []string // tls: required
	Requester    string   // who asked, for the record and the audit
}

// ProfileConfig holds what a profile takes from configuration.
type ProfileConfig struct {
	Validity  time.Duration
	PolicyOID asn1.ObjectIdentifier // individual: the PSrE policy
	CPSURI    string
}

func badRequest(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadRequest, fmt.Sprintf(format, args...))
}

// checkKey accepts ECDSA P-256/P-384 and RSA 2048-4096 subject keys.
func checkKey(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P256() || k.Curve == elliptic.P384() {
			return nil
		}
		return badRequest("ECDSA curve %s is not accepted: use P-256 or P-384", k.Curve.Params().Name)
	case *rsa.PublicKey:
		if n := k.N.BitLen(); n < 2048 || n > 4096 || n%8 != 0 {
			return badRequest("RSA-%d is not accepted: use 2048, 3072 or 4096 bits", n)
		}
		if k.E != 65537 {
			return badRequest("RSA public exponent %d is not accepted: use 65537", k.E)
		}
		return nil
	case nil:
		return badRequest("no public key")
	}
	return badRequest("key type %T is not accepted: use ECDSA P-256/P-384 or RSA", pub)
}

// template builds the certificate template of r's profile. The caller sets
// the serial, validity and issuer-dependent URLs.
func (r Request) template(cfg ProfileConfig) (*x509.Certificate, error) {
	if err := checkKey(r.PublicKey); err != nil {
		return nil, err
	}
	t := &x509.Certificate{BasicConstraintsValid: true}
	switch r.Profile {
	case ProfileIndividual:
		if strings.TrimSpace(r.Name) == "" || r.SubscriberID == "" {
			return nil, badRequest("an individual certificate needs the name and the subscriber identifier")
		}
		if looksLikeNIK(r.SubscriberID) {
			return nil, badRequest("the subscriber identifier looks like a NIK (16 digits): the NIK never goes into a certificate, which every signed document publishes; use the opaque subscriber identifier")
		}
		email, err := checkEmail(r.Email)
		if err != nil {
			return nil, err
		}
		t.Subject = pkix.Name{Country: []string{"ID"}, CommonName: r.Name, SerialNumber: r.SubscriberID}
		if r.GivenName != "" {
			t.Subject.ExtraNames = append(t.Subject.ExtraNames, pkix.AttributeTypeAndValue{Type: asn1.ObjectIdentifier{2, 5, 4, 42}, Value: r.GivenName})
		}
		if r.Surname != "" {
			t.Subject.ExtraNames = append(t.Subject.ExtraNames, pkix.AttributeTypeAndValue{Type: asn1.ObjectIdentifier{2, 5, 4, 4}, Value: r.Surname})
		}
		t.EmailAddresses = []string{email}
		t.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment
		t.UnknownExtKeyUsage = []asn1.ObjectIdentifier{OIDDocumentSigning}
	case ProfileOfficer:
		if strings.TrimSpace(r.Name) == "" {
			return nil, badRequest("an officer certificate needs the officer's name")
		}
		t.Subject = pkix.Name{Country: []string{"ID"}, CommonName: r.Name}
		if r.Email != "" {
			email, err := checkEmail(r.Email)
			if err != nil {
				return nil, err
			}
			t.EmailAddresses = []string{email}
		}
		t.KeyUsage = x509.KeyUsageDigitalSignature
		t.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	case ProfileTLS:
		if len(r.DNSNames) == 0 {
			return nil, badRequest("a tls certificate needs at least one DNS name")
		}
		for _, n := range r.DNSNames {
			ascii, err := idna.Lookup.ToASCII(n)
			if err != nil || ascii != n || strings.Count(n, ".") < 1 && n != "localhost" {
				return nil, badRequest("DNS name %q is not a valid lower-case host name", n)
			}
		}
		t.Subject = pkix.Name{CommonName: r.DNSNames[0]}
		t.DNSNames = r.DNSNames
		t.KeyUsage = x509.KeyUsageDigitalSignature
		if _, ok := r.PublicKey.(*rsa.PublicKey); ok {
			t.KeyUsage |= x509.KeyUsageKeyEncipherment
		}
		t.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	default:
		return nil, badRequest("unknown profile %q: use individual, officer or tls", r.Profile)
	}
	return t, nil
}

func checkEmail(s string) (string, error) {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return "", badRequest("%q is not a plain e-mail address", s)
	}
	return s, nil
}

// looksLikeNIK reports whether s holds a run of 16 digits, the shape of an
// Indonesian NIK.
func looksLikeNIK(s string) bool {
	run := 0
	for _, c := range s {
		if c >= '0' && c <= '9' {
			run++
			if run >= 16 {
				return true
			}
		} else {
			run = 0
		}
	}
	return false
}

// ParseOID reads a dotted object identifier such as 2.16.360.1.1 strictly:
// at least two arcs, no signs or leading zeros, first arcs in range.
func ParseOID(s string) (asn1.ObjectIdentifier, error) {
	parts := strings.Split(s, ".")
	if len(parts) < 2 {
		return nil, fmt.Errorf("%q is not a dotted OID such as 2.16.360.1.1", s)
	}
	oid := make(asn1.ObjectIdentifier, len(parts))
	for i, part := range parts {
		n, err := strconv.Atoi(part)
		if err != nil || n < 0 || part[0] == '+' || (len(part) > 1 && part[0] == '0') {
			return nil, fmt.Errorf("%q is not a dotted OID: arc %q", s, part)
		}
		oid[i] = n
	}
	if oid[0] > 2 || (oid[0] < 2 && oid[1] > 39) {
		return nil, fmt.Errorf("%q is not a valid OID: first arcs out of range", s)
	}
	return oid, nil
}

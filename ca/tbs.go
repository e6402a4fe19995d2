package ca

import (
	"bytes"
	"crypto"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/psre/appliance/ca/lint"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// tbsEncoder writes the TBSCertificate of this CA's certificates directly,
// byte for byte as crypto/x509.CreateCertificate encodes the same template
// for the CA's key, without its reflection-driven encoding/asn1 (a tenth of
// the CPU of an issuance). It covers the template fields the profiles use
// and refuses any other (see supported); NewIssuer checks it against
// crypto/x509 for every configured profile before the CA issues anything,
// and tests compare the two on many templates.
type tbsEncoder struct {
	sigAlg []byte // the CA key's AlgorithmIdentifier, as crypto/x509 writes it
	issuer []byte // the CA certificate's subject, as crypto/x509 takes it
	caSKI  []byte // the CA certificate's subjectKeyIdentifier
}

func newTBSEncoder(ca *x509.Certificate) (*tbsEncoder, error) {
	alg, err := lint.SignatureAlgorithm(ca.PublicKey)
	if err != nil {
		return nil, err
	}
	issuer := ca.RawSubject
	if len(issuer) == 0 {
		if issuer, err = asn1.Marshal(ca.Subject.ToRDNSequence()); err != nil {
			return nil, err
		}
	}
	return &tbsEncoder{sigAlg: alg, issuer: issuer, caSKI: ca.SubjectKeyId}, nil
}

var (
	oidExtSubjectKeyID     = asn1.ObjectIdentifier{2, 5, 29, 14}
	oidExtKeyUsage         = asn1.ObjectIdentifier{2, 5, 29, 15}
	oidExtSubjectAltName   = asn1.ObjectIdentifier{2, 5, 29, 17}
	oidExtBasicConstraints = asn1.ObjectIdentifier{2, 5, 29, 19}
	oidExtCRLDP            = asn1.ObjectIdentifier{2, 5, 29, 31}
	oidExtAuthorityKeyID   = asn1.ObjectIdentifier{2, 5, 29, 35}
	oidExtExtendedKeyUsage = asn1.ObjectIdentifier{2, 5, 29, 37}
	oidExtAuthorityInfo    = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 1}
	oidAccessOCSP          = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1}
	oidAccessCAIssuers     = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 2}
	emptyName              = []byte{0x30, 0x00}
	errUnsupportedTemplate = errors.New("the direct TBS encoder does not handle this template")
	extKeyUsageOIDs        = map[x509.ExtKeyUsage]asn1.ObjectIdentifier{
		x509.ExtKeyUsageAny:                            {2, 5, 29, 37, 0},
		x509.ExtKeyUsageServerAuth:                     {1, 3, 6, 1, 5, 5, 7, 3, 1},
		x509.ExtKeyUsageClientAuth:                     {1, 3, 6, 1, 5, 5, 7, 3, 2},
		x509.ExtKeyUsageCodeSigning:                    {1, 3, 6, 1, 5, 5, 7, 3, 3},
		x509.ExtKeyUsageEmailProtection:                {1, 3, 6, 1, 5, 5, 7, 3, 4},
		x509.ExtKeyUsageIPSECEndSystem:                 {1, 3, 6, 1, 5, 5, 7, 3, 5},
		x509.ExtKeyUsageIPSECTunnel:                    {1, 3, 6, 1, 5, 5, 7, 3, 6},
		x509.ExtKeyUsageIPSECUser:                      {1, 3, 6, 1, 5, 5, 7, 3, 7},
		x509.ExtKeyUsageTimeStamping:                   {1, 3, 6, 1, 5, 5, 7, 3, 8},
		x509.ExtKeyUsageOCSPSigning:                    {1, 3, 6, 1, 5, 5, 7, 3, 9},
		x509.ExtKeyUsageMicrosoftServerGatedCrypto:     {1, 3, 6, 1, 4, 1, 311, 10, 3, 3},
		x509.ExtKeyUsageNetscapeServerGatedCrypto:      {2, 16, 840, 1, 113730, 4, 1},
		x509.ExtKeyUsageMicrosoftCommercialCodeSigning: {1, 3, 6, 1, 4, 1, 311, 2, 1, 22},
		x509.ExtKeyUsageMicrosoftKernelCodeSigning:     {1, 3, 6, 1, 4, 1, 311, 61, 1, 1},
	}
)

// supported reports whether t sets only fields the encoder writes: those
// of an end-entity certificate of the profiles.
func supported(t *x509.Certificate) bool {
	return t.SerialNumber != nil && t.SerialNumber.Sign() > 0 && t.SignatureAlgorithm == x509.UnknownSignatureAlgorithm &&
		!t.IsCA && (t.MaxPathLen == 0 || t.MaxPathLen == -1) && !t.MaxPathLenZero &&
		len(t.IPAddresses) == 0 && len(t.URIs) == 0 && len(t.Policies) == 0 && len(t.PolicyIdentifiers) == 0 &&
		len(t.PermittedDNSDomains) == 0 && len(t.ExcludedDNSDomains) == 0 && len(t.PermittedIPRanges) == 0 &&
		len(t.ExcludedIPRanges) == 0 && len(t.PermittedEmailAddresses) == 0 && len(t.ExcludedEmailAddresses) == 0 &&
		len(t.PermittedURIDomains) == 0 && len(t.ExcludedURIDomains) == 0 && !t.PermittedDNSDomainsCritical
}

// spkiAndKeyID encodes pub as a SubjectPublicKeyInfo and returns it with
// its RFC 5280 method-1 key identifier (SHA-1 of the subjectPublicKey bits).
func spkiAndKeyID(pub crypto.PublicKey) (spki, keyID []byte, err error) {
	if spki, err = x509.MarshalPKIXPublicKey(pub); err != nil {
		return nil, nil, fmt.Errorf("encode public key: %w", err)
	}
	in := cryptobyte.String(spki)
	var body cryptobyte.String
	var bits asn1.BitString
	if !in.ReadASN1(&body, cbasn1.SEQUENCE) || !body.SkipASN1(cbasn1.SEQUENCE) || !body.ReadASN1BitString(&bits) {
		return nil, nil, errors.New("decode public key: malformed SubjectPublicKeyInfo")
	}
	sum := sha1.Sum(bits.Bytes)
	return spki, sum[:], nil
}

// encode returns the DER TBSCertificate of t for the subject key whose
// SubjectPublicKeyInfo is spki.
func (e *tbsEncoder) encode(t *x509.Certificate, spki []byte) ([]byte, error) {
	if !supported(t) {
		return nil, errUnsupportedTemplate
	}
	for _, names := range [][]string{t.DNSNames, t.EmailAddresses} {
		for _, n := range names {
			if err := isIA5(n); err != nil {
				return nil, err
			}
		}
	}
	d := &derWriter{b: make([]byte, 0, 1024), open: make([]int, 0, 8)}
	d.begin(tagSequence)
	d.begin(0xa0) // [0] EXPLICIT version
	d.prim(tagInteger, []byte{2})
	d.end()
	serial := t.SerialNumber.Bytes()
	d.begin(tagInteger)
	if serial[0]&0x80 != 0 {
		d.b = append(d.b, 0)
	}
	d.raw(serial)
	d.end()
	d.raw(e.sigAlg)
	d.raw(e.issuer)
	d.begin(tagSequence)
	d.time(t.NotBefore.UTC())
	d.time(t.NotAfter.UTC())
	d.end()
	subjectAt := len(d.b)
	d.name(t.Subject)
	if d.err != nil {
		return nil, d.err
	}
	subjectEmpty := bytes.Equal(d.b[subjectAt:], emptyName)
	aki := t.AuthorityKeyId
	if !bytes.Equal(e.issuer, d.b[subjectAt:]) && len(e.caSKI) > 0 {
		aki = e.caSKI
	}
	d.raw(spki)
	extra := func(oid asn1.ObjectIdentifier) bool {
		for _, x := range t.ExtraExtensions {
			if x.Id.Equal(oid) {
				return true
			}
		}
		return false
	}
	// The extensions in crypto/x509's order (buildCertExtensions), each
	// left out where ExtraExtensions has its OID.
	extsAt := len(d.b)
	d.begin(0xa3) // [3] EXPLICIT extensions
	d.begin(tagSequence)
	n := 0
	begin := func(oid asn1.ObjectIdentifier, critical bool) {
		n++
		d.begin(tagSequence)
		d.oid(oid)
		if critical {
			d.prim(tagBoolean, []byte{0xff})
		}
		d.begin(tagOctetString)
	}
	end := func() {
		d.end()
		d.end()
	}
	if t.KeyUsage != 0 && !extra(oidExtKeyUsage) {
		begin(oidExtKeyUsage, true)
		d.keyUsage(t.KeyUsage)
		end()
	}
	if (len(t.ExtKeyUsage) > 0 || len(t.UnknownExtKeyUsage) > 0) && !extra(oidExtExtendedKeyUsage) {
		begin(oidExtExtendedKeyUsage, false)
		d.begin(tagSequence)
		for _, u := range t.ExtKeyUsage {
			oid, ok := extKeyUsageOIDs[u]
			if !ok {
				return nil, errors.New("x509: unknown extended key usage")
			}
			d.oid(oid)
		}
		for _, oid := range t.UnknownExtKeyUsage {
			d.oid(oid)
		}
		d.end()
		end()
	}
	if t.BasicConstraintsValid && !extra(oidExtBasicConstraints) {
		begin(oidExtBasicConstraints, true)
		d.prim(tagSequence, nil) // not a CA, no path length: empty
		end()
	}
	if len(t.SubjectKeyId) > 0 && !extra(oidExtSubjectKeyID) {
		begin(oidExtSubjectKeyID, false)
		d.prim(tagOctetString, t.SubjectKeyId)
		end()
	}
	if len(aki) > 0 && !extra(oidExtAuthorityKeyID) {
		begin(oidExtAuthorityKeyID, false)
		d.begin(tagSequence)
		d.prim(0x80, aki) // [0] IMPLICIT keyIdentifier
		d.end()
		end()
	}
	if (len(t.OCSPServer) > 0 || len(t.IssuingCertificateURL) > 0) && !extra(oidExtAuthorityInfo) {
		begin(oidExtAuthorityInfo, false)
		d.begin(tagSequence)
		for _, u := range t.OCSPServer {
			d.begin(tagSequence)
			d.oid(oidAccessOCSP)
			d.primString(0x86, u) // uniformResourceIdentifier
			d.end()
		}
		for _, u := range t.IssuingCertificateURL {
			d.begin(tagSequence)
			d.oid(oidAccessCAIssuers)
			d.primString(0x86, u)
			d.end()
		}
		d.end()
		end()
	}
	if (len(t.DNSNames) > 0 || len(t.EmailAddresses) > 0) && !extra(oidExtSubjectAltName) {
		// RFC 5280 4.2.1.6: critical when the subject is empty.
		begin(oidExtSubjectAltName, subjectEmpty)
		d.begin(tagSequence)
		for _, name := range t.DNSNames {
			d.primString(0x82, name) // dNSName
		}
		for _, name := range t.EmailAddresses {
			d.primString(0x81, name) // rfc822Name
		}
		d.end()
		end()
	}
	if len(t.CRLDistributionPoints) > 0 && !extra(oidExtCRLDP) {
		begin(oidExtCRLDP, false)
		d.begin(tagSequence)
		for _, u := range t.CRLDistributionPoints {
			d.begin(tagSequence) // DistributionPoint
			d.begin(0xa0)        // distributionPoint
			d.begin(0xa0)        // fullName
			d.primString(0x86, u)
			d.end()
			d.end()
			d.end()
		}
		d.end()
		end()
	}
	for _, x := range t.ExtraExtensions {
		begin(x.Id, x.Critical)
		d.raw(x.Value)
		end()
	}
	d.end()
	d.end()
	if n == 0 {
		d.b = d.b[:extsAt] // no extensions: no [3]
	}
	d.end()
	if d.err != nil {
		return nil, d.err
	}
	return d.b, nil
}

// DER tags the encoder writes.
const (
	tagBoolean         = 0x01
	tagInteger         = 0x02
	tagBitString       = 0x03
	tagOctetString     = 0x04
	tagOID             = 0x06
	tagUTF8String      = 0x0c
	tagPrintableString = 0x13
	tagUTCTime         = 0x17
	tagGeneralizedTime = 0x18
	tagSequence        = 0x30
	tagSet             = 0x31
)

// derWriter appends DER to b. begin writes a tag and a one-byte length to
// fill in; end fills it in, moving the contents when the length needs the
// long form. The first error sticks.
type derWriter struct {
	b    []byte
	open []int // offsets of the contents of the open elements
	err  error
}

func (d *derWriter) begin(tag byte) {
	d.b = append(d.b, tag, 0)
	d.open = append(d.open, len(d.b))
}

func (d *derWriter) end() {
	start := d.open[len(d.open)-1]
	d.open = d.open[:len(d.open)-1]
	n := len(d.b) - start
	if n < 0x80 {
		d.b[start-1] = byte(n)
		return
	}
	k := 0
	for m := n; m > 0; m >>= 8 {
		k++
	}
	for range k {
		d.b = append(d.b, 0)
	}
	copy(d.b[start+k:], d.b[start:start+n])
	d.b[start-1] = 0x80 | byte(k)
	for i := k - 1; i >= 0; i-- {
		d.b[start+i] = byte(n)
		n >>= 8
	}
}

func (d *derWriter) raw(b []byte) { d.b = append(d.b, b...) }

func (d *derWriter) prim(tag byte, content []byte) {
	d.begin(tag)
	d.b = append(d.b, content...)
	d.end()
}

func (d *derWriter) primString(tag byte, s string) {
	d.begin(tag)
	d.b = append(d.b, s...)
	d.end()
}

// oid writes an OBJECT IDENTIFIER as encoding/asn1 does, and refuses the
// ones it refuses.
func (d *derWriter) oid(oid asn1.ObjectIdentifier) {
	if len(oid) < 2 || oid[0] < 0 || oid[0] > 2 || (oid[0] < 2 && oid[1] >= 40) {
		d.fail(errors.New("asn1: structure error: invalid object identifier"))
		return
	}
	d.begin(tagOID)
	d.base128(oid[0]*40 + oid[1])
	for _, arc := range oid[2:] {
		d.base128(arc)
	}
	d.end()
}

func (d *derWriter) base128(n int) {
	if n < 0 {
		d.fail(errors.New("asn1: structure error: invalid object identifier"))
		return
	}
	l := 1
	for m := n >> 7; m > 0; m >>= 7 {
		l++
	}
	for i := l - 1; i >= 0; i-- {
		o := byte(n>>uint(i*7)) & 0x7f
		if i != 0 {
			o |= 0x80
		}
		d.b = append(d.b, o)
	}
}

// time writes t (in UTC) as encoding/asn1 writes a time.Time: UTCTime
// from 1950 to 2049, GeneralizedTime otherwise, to the second, with Z.
func (d *derWriter) time(t time.Time) {
	y := t.Year()
	if y >= 1950 && y < 2050 {
		d.begin(tagUTCTime)
		d.b = appendDigits(d.b, y%100, 2)
	} else {
		if y < 0 || y > 9999 {
			d.fail(errors.New("asn1: structure error: cannot represent time as GeneralizedTime"))
			return
		}
		d.begin(tagGeneralizedTime)
		d.b = appendDigits(d.b, y, 4)
	}
	_, month, day := t.Date()
	hour, minute, second := t.Clock()
	for _, v := range [...]int{int(month), day, hour, minute, second} {
		d.b = appendDigits(d.b, v, 2)
	}
	d.b = append(d.b, 'Z')
	d.end()
}

func appendDigits(b []byte, v, n int) []byte {
	var buf [4]byte
	for i := n - 1; i >= 0; i-- {
		buf[i] = byte('0' + v%10)
		v /= 10
	}
	return append(b, buf[:n]...)
}

// keyUsage writes the KeyUsage BIT STRING as crypto/x509 does: the usage
// bits in ASN.1 order, one byte or two, the trailing zero bits unused.
func (d *derWriter) keyUsage(ku x509.KeyUsage) {
	a := [2]byte{reverseBits(byte(ku)), reverseBits(byte(ku >> 8))}
	bits := a[:1]
	if a[1] != 0 {
		bits = a[:2]
	}
	unused := 0
	for last := bits[len(bits)-1]; last != 0 && last>>unused&1 == 0; {
		unused++
	}
	d.begin(tagBitString)
	d.b = append(d.b, byte(unused))
	d.b = append(d.b, bits...)
	d.end()
}

func (d *derWriter) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

// name writes n as crypto/x509 does (ToRDNSequence, encoding/asn1): each
// string value a PrintableString when every character allows it, otherwise
// a UTF8String. A name with values of other types or multi-valued RDNs
// goes through encoding/asn1.
func (d *derWriter) name(n pkix.Name) {
	rdns := n.ToRDNSequence()
	simple := true
	for _, rdn := range rdns {
		if len(rdn) != 1 {
			simple = false // encoding/asn1 sorts a SET OF several values
			break
		}
		if s, ok := rdn[0].Value.(string); !ok || !utf8.ValidString(s) {
			simple = false
			break
		}
	}
	if !simple {
		b, err := asn1.Marshal(rdns)
		if err != nil {
			d.fail(err)
			return
		}
		d.raw(b)
		return
	}
	d.begin(tagSequence)
	for _, rdn := range rdns {
		s := rdn[0].Value.(string)
		d.begin(tagSet)
		d.begin(tagSequence)
		d.oid(rdn[0].Type)
		tag := byte(tagPrintableString)
		for i := 0; i < len(s); i++ {
			if !printable(s[i]) {
				tag = tagUTF8String
				break
			}
		}
		d.primString(tag, s)
		d.end()
		d.end()
	}
	d.end()
}

func reverseBits(in byte) byte {
	b1 := in>>4 | in<<4
	b2 := b1>>2&0x33 | b1<<2&0xcc
	return b2>>1&0x55 | b2<<1&0xaa
}

// printable is encoding/asn1's PrintableString set (no '*', no '&').
func printable(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		'\'' <= c && c <= ')' || '+' <= c && c <= '/' || c == ' ' || c == ':' || c == '=' || c == '?'
}

func isIA5(s string) error {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return fmt.Errorf("x509: %q cannot be encoded as an IA5String", s)
		}
	}
	return nil
}

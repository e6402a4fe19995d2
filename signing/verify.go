package signing

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"fmt"
	"math/big"
	"time"

	"github.com/digitorus/pdf"
	"github.com/digitorus/timestamp"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// maxSignedBytes bounds what VerifyBytes reads: an input of MaxBytes plus
// what signatures add.
const maxSignedBytes = MaxBytes + 4<<20

// Report describes the last signature of a PDF (the one whose ByteRange
// reaches furthest). It checks integrity, not trust: the caller validates
// Certificate against its own roots.
type Report struct {
	Signatures      int    // signature fields with a value
	SubFilter       string // e.g. "ETSI.CAdES.detached"
	Name, Reason    string
	ClaimedTime     time.Time // /M of the signature dictionary, the signer's claim
	CoversWholeFile bool      // ByteRange reaches the end: nothing was appended after
	Certificate     *x509.Certificate
	SignerSerial    *big.Int
	Certificates    int  // certificates in the CMS
	DigestOK        bool // the message digest matches and the signature verifies
	SigningCertV2   bool // the ESS signing-certificate-v2 attribute names Certificate
	SigningTimeAttr bool // a CMS signing-time attribute is present (PAdES forbids it)
	OCSPEmbedded    bool // an adbe-revocationInfoArchival attribute is present
	Timestamped     bool // a signature-time-stamp token is present
	TimestampOK     bool // it parses, its signature verifies, it covers the signature value
	TimestampTime   time.Time
}

// VerifyBytes checks the last signature of signed. It returns ErrNoSignature
// when there is none, ErrInvalid (with the Report filled in) when the
// digest, the signature or the timestamp do not verify, and the errors of
// Inspect for unreadable files.
func VerifyBytes(signed []byte) (Report, error) {
	var rep Report
	r, err := open(signed, maxSignedBytes)
	if err != nil {
		return rep, err
	}
	var br [4]int64
	err = guard(func() error {
		sig, n, ok := lastSignature(r)
		rep.Signatures = n
		if !ok {
			return ErrNoSignature
		}
		rep.SubFilter, rep.Name, rep.Reason = sig.Key("SubFilter").Name(), sig.Key("Name").Text(), sig.Key("Reason").Text()
		rep.ClaimedTime, _ = parsePDFDate(sig.Key("M").Text())
		for i := range br {
			br[i] = sig.Key("ByteRange").Index(i).Int64()
		}
		return nil
	})
	if err != nil {
		return rep, err
	}
	size := int64(len(signed))
	if br[0] != 0 || br[1] < 1 || br[2] < br[1]+2 || br[3] < 0 || br[2]+br[3] > size ||
		signed[br[1]] != '<' || signed[br[2]-1] != '>' {
		return rep, fmt.Errorf("%w: ByteRange %v in a %d-byte file", ErrInvalid, br, size)
	}
	rep.CoversWholeFile = br[2]+br[3] == size
	der := make([]byte, hex.DecodedLen(int(br[2]-br[1]-2)))
	if _, err := hex.Decode(der, signed[br[1]+1:br[2]-1]); err != nil {
		return rep, fmt.Errorf("%w: /Contents is not hex: %v", ErrInvalid, err)
	}
	s, err := parseCMS(der)
	if err != nil {
		return rep, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	rep.Certificate, rep.SignerSerial, rep.Certificates = s.cert, s.cert.SerialNumber, len(s.certs)
	h := s.digestHash.New()
	h.Write(signed[:br[1]])
	h.Write(signed[br[2] : br[2]+br[3]])
	var md []byte
	_, mdErr := asn1.Unmarshal(s.attrs[oidMessageDigest.String()], &md)
	rep.DigestOK = mdErr == nil && subtle.ConstantTimeCompare(md, h.Sum(nil)) == 1 &&
		s.cert.CheckSignature(s.sigAlg, s.signedAttrs, s.signature) == nil
	rep.SigningCertV2 = signingCertMatches(s.attrs[oidSigningCertV2.String()], s.cert.Raw)
	_, rep.SigningTimeAttr = s.attrs[oidSigningTime.String()]
	_, rep.OCSPEmbedded = s.attrs[oidAdbeRevocation.String()]
	if token, ok := s.unsigned[oidSignatureTSToken.String()]; ok {
		rep.Timestamped = true
		if ts, err := timestamp.Parse(token); err == nil && ts.HashAlgorithm.Available() {
			th := ts.HashAlgorithm.New()
			th.Write(s.signature)
			rep.TimestampOK = bytes.Equal(th.Sum(nil), ts.HashedMessage)
			rep.TimestampTime = ts.Time
		}
	}
	if !rep.DigestOK || (rep.Timestamped && !rep.TimestampOK) {
		return rep, fmt.Errorf("%w: digest/signature ok %v, timestamp present %v ok %v",
			ErrInvalid, rep.DigestOK, rep.Timestamped, rep.TimestampOK)
	}
	return rep, nil
}

// lastSignature returns the signature dictionary whose ByteRange ends last
// among the AcroForm's signature fields, and how many there are.
func lastSignature(r *pdf.Reader) (pdf.Value, int, bool) {
	fields := r.Trailer().Key("Root").Key("AcroForm").Key("Fields")
	var best pdf.Value
	var end int64 = -1
	n := 0
	for i := 0; i < fields.Len() && i < 10000; i++ {
		f := fields.Index(i)
		v := f.Key("V")
		if f.Key("FT").Name() != "Sig" || v.Kind() != pdf.Dict || v.Key("ByteRange").Len() != 4 {
			continue
		}
		n++
		br := v.Key("ByteRange")
		if e := br.Index(2).Int64() + br.Index(3).Int64(); e > end {
			best, end = v, e
		}
	}
	return best, n, n > 0
}

// signingCertMatches reports whether a SigningCertificateV2 value's first
// ESSCertIDv2 holds the SHA-256 of raw (the default hash algorithm, left
// out or explicit).
func signingCertMatches(value, raw []byte) bool {
	in := cryptobyte.String(value)
	var sc, certs, id, alg cryptobyte.String
	var oid asn1.ObjectIdentifier
	var hash []byte
	if !in.ReadASN1(&sc, cbasn1.SEQUENCE) || !sc.ReadASN1(&certs, cbasn1.SEQUENCE) || !certs.ReadASN1(&id, cbasn1.SEQUENCE) {
		return false
	}
	if id.PeekASN1Tag(cbasn1.SEQUENCE) {
		if !id.ReadASN1(&alg, cbasn1.SEQUENCE) || !alg.ReadASN1ObjectIdentifier(&oid) || !oid.Equal(oidSHA256) {
			return false
		}
	}
	want := sha256.Sum256(raw)
	return id.ReadASN1Bytes(&hash, cbasn1.OCTET_STRING) && bytes.Equal(hash, want[:])
}

// parsePDFDate reads D:YYYYMMDDHHmmSS+HH'mm' (the form pdfsign writes).
func parsePDFDate(s string) (time.Time, error) {
	for _, layout := range []string{"D:20060102150405-07'00'", "D:20060102150405Z", "D:20060102150405"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("not a PDF date: %q", s)
}

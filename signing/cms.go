package signing

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"slices"

	"github.com/digitorus/timestamp"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Object identifiers (read-only).
var (
	oidData             = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidSignedData       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidContentType      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	oidMessageDigest    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	oidSigningTime      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 5}
	oidSigningCertV2    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 47}
	oidSignatureTSToken = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 14}
	oidAdbeRevocation   = asn1.ObjectIdentifier{1, 2, 840, 113583, 1, 1, 8}
	oidSHA256           = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidECDSAWithSHA256  = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidSHA256WithRSA    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
	tagContext0         = cbasn1.Tag(0).ContextSpecific().Constructed()
	tagContext1         = cbasn1.Tag(1).ContextSpecific().Constructed()
	tagDirectoryName    = cbasn1.Tag(4).ContextSpecific().Constructed()
)

const maxTimestampTokenLen = 64 << 10

// cmsInput is what one CAdES signature is made of.
type cmsInput struct {
	digest []byte // SHA-256 of the bytes the ByteRange covers
	opts   *Options
}

// buildCMS makes the detached CMS SignedData of a PAdES baseline B-T
// signature: signed attributes content-type, message-digest,
// signing-certificate-v2 and (when OCSP is given) adbe-revocationInfoArchival,
// no signing-time; the certificates; and the signature-time-stamp
// unsigned attribute holding a token over the signature value.
func buildCMS(ctx context.Context, in cmsInput) ([]byte, error) {
	o := in.opts
	var attrs [][]byte
	attrs = append(attrs, attribute(oidContentType, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(oidData) }))
	attrs = append(attrs, attribute(oidMessageDigest, func(b *cryptobyte.Builder) { b.AddASN1OctetString(in.digest) }))
	attrs = append(attrs, attribute(oidSigningCertV2, func(b *cryptobyte.Builder) { signingCertV2(b, o.Certificate) }))
	if len(o.OCSP) > 0 {
		attrs = append(attrs, attribute(oidAdbeRevocation, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1(tagContext1, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddBytes(o.OCSP) })
				})
			})
		}))
	}
	slices.SortFunc(attrs, bytes.Compare) // DER orders a SET OF by encoding
	set := cryptobyte.NewBuilder(nil)
	set.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
		for _, a := range attrs {
			b.AddBytes(a)
		}
	})
	signedAttrs, err := set.Bytes()
	if err != nil {
		return nil, fmt.Errorf("encode signed attributes: %w", err)
	}
	sigAlg, err := signatureAlgorithm(o.Signer.Public())
	if err != nil {
		return nil, err
	}
	h := sha256.Sum256(signedAttrs)
	sig, err := o.Signer.Sign(rand.Reader, h[:], crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("sign with the subscriber key: %w", err)
	}
	token, err := timestampSignature(ctx, o.Timestamper, sig)
	if err != nil {
		return nil, err
	}
	signedAttrs[0] = byte(tagContext0) // [0] IMPLICIT in SignerInfo
	b := cryptobyte.NewBuilder(nil)
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // ContentInfo
		b.AddASN1ObjectIdentifier(oidSignedData)
		b.AddASN1(tagContext0, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // SignedData
				b.AddASN1Int64(1)
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) { algorithm(b, oidSHA256, false) })
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(oidData) })
				b.AddASN1(tagContext0, func(b *cryptobyte.Builder) {
					for _, c := range append([]*x509.Certificate{o.Certificate}, o.Chain...) {
						b.AddBytes(c.Raw)
					}
				})
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // SignerInfo
						b.AddASN1Int64(1)
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
							b.AddBytes(o.Certificate.RawIssuer)
							b.AddASN1BigInt(o.Certificate.SerialNumber)
						})
						algorithm(b, oidSHA256, false)
						b.AddBytes(signedAttrs)
						algorithm(b, sigAlg, sigAlg.Equal(oidSHA256WithRSA))
						b.AddASN1OctetString(sig)
						b.AddASN1(tagContext1, func(b *cryptobyte.Builder) {
							b.AddBytes(attribute(oidSignatureTSToken, func(b *cryptobyte.Builder) { b.AddBytes(token) }))
						})
					})
				})
			})
		})
	})
	der, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("encode CMS: %w", err)
	}
	return der, nil
}

// timestampSignature asks tsa for a token over SHA-256(sig) and checks it.
func timestampSignature(ctx context.Context, tsa Timestamper, sig []byte) ([]byte, error) {
	d := sha256.Sum256(sig)
	token, err := tsa.Timestamp(ctx, d[:], crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTimestamp, err)
	}
	if len(token) > maxTimestampTokenLen {
		return nil, fmt.Errorf("%w: token of %d bytes", ErrTimestamp, len(token))
	}
	ts, err := timestamp.Parse(token)
	if err != nil {
		return nil, fmt.Errorf("%w: parse token: %v", ErrTimestamp, err)
	}
	if ts.HashAlgorithm != crypto.SHA256 || !bytes.Equal(ts.HashedMessage, d[:]) {
		return nil, fmt.Errorf("%w: the token's message imprint is not the signature's", ErrTimestamp)
	}
	return token, nil
}

// attribute encodes Attribute ::= SEQUENCE { type, values SET OF value }.
func attribute(oid asn1.ObjectIdentifier, value func(*cryptobyte.Builder)) []byte {
	b := cryptobyte.NewBuilder(nil)
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oid)
		b.AddASN1(cbasn1.SET, value)
	})
	return b.BytesOrPanic() // only fixed-form data and DER from x509 go in
}

// signingCertV2 encodes SigningCertificateV2 with one ESSCertIDv2 (hash
// algorithm SHA-256, the default, so left out) and its issuerSerial.
func signingCertV2(b *cryptobyte.Builder, cert *x509.Certificate) {
	h := sha256.Sum256(cert.Raw)
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1OctetString(h[:])
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1(tagDirectoryName, func(b *cryptobyte.Builder) { b.AddBytes(cert.RawIssuer) })
					})
					b.AddASN1BigInt(cert.SerialNumber)
				})
			})
		})
	})
}

func algorithm(b *cryptobyte.Builder, oid asn1.ObjectIdentifier, null bool) {
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oid)
		if null {
			b.AddASN1NULL()
		}
	})
}

func signatureAlgorithm(pub crypto.PublicKey) (asn1.ObjectIdentifier, error) {
	switch pub.(type) {
	case *ecdsa.PublicKey:
		return oidECDSAWithSHA256, nil
	case *rsa.PublicKey:
		return oidSHA256WithRSA, nil
	}
	return nil, fmt.Errorf("signing: unsupported key type %T", pub)
}

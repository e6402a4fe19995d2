package tsa

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"fmt"
	"io"
	"math/big"
	"slices"
	"time"
)

// serialBytes is the size of a token serial: 16 bytes with the top bit
// cleared, so the INTEGER is positive and 127 bits are random.
const serialBytes = 16

func (r *Responder) serial() (*big.Int, error) {
	b := make([]byte, serialBytes)
	for {
		if _, err := io.ReadFull(r.cfg.Random, b); err != nil {
			return nil, fmt.Errorf("draw a token serial: %w", err)
		}
		b[0] &= 0x7f
		if n := new(big.Int).SetBytes(b); n.BitLen() > 64 {
			return n, nil
		}
	}
}

// issue builds one token for an accepted request, has the HSM sign it and
// checks the signature against the TSA certificate.
func (r *Responder) issue(ctx context.Context, req *request) ([]byte, error) {
	start := time.Now()
	serial, err := r.serial()
	if err != nil {
		return nil, err
	}
	genTime := r.cfg.Now().UTC().Truncate(time.Second)
	if c := r.cfg.Certificate; genTime.Before(c.NotBefore) || genTime.After(c.NotAfter) {
		return nil, fmt.Errorf("the TSA certificate is not valid at %s (valid %s to %s)", genTime.Format(time.RFC3339),
			c.NotBefore.UTC().Format(time.RFC3339), c.NotAfter.UTC().Format(time.RFC3339))
	}
	info, err := asn1.Marshal(tstInfo{
		Version: 1, Policy: r.cfg.Policy, SerialNumber: serial, GenTime: genTime,
		MessageImprint: messageImprint{HashAlgorithm: req.alg, HashedMessage: req.digest},
		Accuracy:       accuracyOf(r.cfg.Accuracy), Nonce: req.nonce, TSA: r.tsaName,
	})
	if err != nil {
		return nil, fmt.Errorf("encode TSTInfo: %w", err)
	}
	token, err := r.sign(info, req.certReq)
	if err != nil {
		return nil, err
	}
	r.m.signing.Observe(time.Since(start).Seconds())
	r.log.InfoContext(ctx, "time-stamp token issued", "serial", serial.Text(16), "gen_time", genTime.Format(time.RFC3339),
		"hash", req.hash.String(), "digest", hex.EncodeToString(req.digest), "nonce", req.nonce != nil)
	if r.cfg.OnIssued != nil {
		r.cfg.OnIssued(new(big.Int).Set(serial), genTime, slices.Clone(req.digest))
	}
	return token, nil
}

// sign wraps the DER TSTInfo in CMS SignedData signed by the HSM key.
func (r *Responder) sign(info []byte, withCerts bool) ([]byte, error) {
	h := r.hash.New()
	h.Write(info)
	contentType, err := asn1.Marshal(oidTSTInfo)
	if err != nil {
		return nil, fmt.Errorf("encode contentType: %w", err)
	}
	digest, err := asn1.Marshal(h.Sum(nil))
	if err != nil {
		return nil, fmt.Errorf("encode messageDigest: %w", err)
	}
	attrs := [][]byte{r.essAttr}
	for _, a := range []struct {
		oid asn1.ObjectIdentifier
		val []byte
	}{{oidContentType, contentType}, {oidMessageDigest, digest}} {
		der, err := encodeAttribute(a.oid, a.val)
		if err != nil {
			return nil, err
		}
		attrs = append(attrs, der)
	}
	slices.SortFunc(attrs, bytes.Compare) // DER orders a SET OF by encoding
	joined := bytes.Join(attrs, nil)
	toSign, err := wrap(0, asn1.TagSet, joined)
	if err != nil {
		return nil, err
	}
	h = r.hash.New()
	h.Write(toSign)
	sig, err := r.cfg.Signer.Sign(rand.Reader, h.Sum(nil), r.hash)
	if err != nil {
		return nil, fmt.Errorf("HSM signature of the time-stamp token: %w", err)
	}
	if err := r.cfg.Certificate.CheckSignature(r.x509Alg, toSign, sig); err != nil {
		return nil, fmt.Errorf("the HSM's time-stamp signature does not verify: %w", err)
	}
	signed, err := wrap(2, 0, joined)
	if err != nil {
		return nil, err
	}
	sd := signedData{
		Version:          3, // eContentType is not id-data (RFC 5652 5.1)
		DigestAlgorithms: []pkix.AlgorithmIdentifier{r.digestAlg},
		EncapContentInfo: encapContentInfo{EContentType: oidTSTInfo, EContent: info},
		SignerInfos: []signerInfo{{Version: 1, SID: r.sid, DigestAlgorithm: r.digestAlg,
			SignedAttrs: asn1.RawValue{FullBytes: signed}, SignatureAlgorithm: r.sigAlg, Signature: sig}},
	}
	if withCerts {
		sd.Certificates = r.certs
	}
	inner, err := asn1.Marshal(sd)
	if err != nil {
		return nil, fmt.Errorf("encode SignedData: %w", err)
	}
	if inner, err = wrap(2, 0, inner); err != nil {
		return nil, err
	}
	token, err := asn1.Marshal(contentInfo{ContentType: oidSignedData, Content: asn1.RawValue{FullBytes: inner}})
	if err != nil {
		return nil, fmt.Errorf("encode ContentInfo: %w", err)
	}
	return token, nil
}

// encodeAttribute is the DER of an Attribute with one value.
func encodeAttribute(oid asn1.ObjectIdentifier, value []byte) ([]byte, error) {
	set, err := wrap(0, asn1.TagSet, value)
	if err != nil {
		return nil, err
	}
	der, err := asn1.Marshal(attribute{Type: oid, Values: asn1.RawValue{FullBytes: set}})
	if err != nil {
		return nil, fmt.Errorf("encode attribute %s: %w", oid, err)
	}
	return der, nil
}

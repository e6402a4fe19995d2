package signing

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"fmt"
	"strconv"

	"github.com/digitorus/pdfsign/revocation"
	"github.com/digitorus/pdfsign/sign"
)

// tokenReserve is the room kept in /Contents for the timestamp token;
// Sign retries once with the room it measured if that was too little.
const tokenReserve = 8 << 10

// Sign signs pdf with o.Signer as an approval signature (incremental
// update) in the format the package doc describes, and returns the signed
// file. It inspects pdf first (see Inspect). The signed output is checked
// with VerifyBytes before it is returned.
func Sign(ctx context.Context, pdf []byte, o Options) ([]byte, error) {
	info, err := Inspect(pdf)
	if err != nil {
		return nil, err
	}
	if err := o.check(info); err != nil {
		return nil, err
	}
	if err := checkOCSP(&o); err != nil {
		return nil, err
	}
	var image []byte
	if o.Visible != nil {
		image, err = composeAppearance(o.Visible, info.PageSizes[o.Visible.Page-1].Rotate)
		if err != nil {
			return nil, err
		}
	}
	reserve := len(o.OCSP) + tokenReserve
	for attempt := 0; ; attempt++ {
		out, err := layout(pdf, &o, image, reserve)
		if err != nil {
			return nil, err
		}
		br, err := placeholder(out, len(pdf))
		if err != nil {
			return nil, err
		}
		h := sha256.New()
		h.Write(out[:br[1]])
		h.Write(out[br[2]:])
		der, err := buildCMS(ctx, cmsInput{digest: h.Sum(nil), opts: &o})
		if err != nil {
			return nil, err
		}
		room := (br[2] - br[1] - 2) / 2
		if len(der) > room {
			if attempt > 0 {
				return nil, fmt.Errorf("signing: the signature (%d bytes) does not fit its %d-byte placeholder", len(der), room)
			}
			reserve += len(der) - room + 1024
			continue
		}
		hex.Encode(out[br[1]+1:], der)
		rep, err := VerifyBytes(out)
		if err != nil {
			return nil, fmt.Errorf("signing: self-check of the signed PDF: %w", err)
		}
		if rep.SignerSerial.Cmp(o.Certificate.SerialNumber) != 0 || !rep.CoversWholeFile || !rep.Timestamped {
			return nil, fmt.Errorf("signing: self-check of the signed PDF: unexpected %+v", rep)
		}
		return out, nil
	}
}

// layout has pdfsign write the incremental update: signature dictionary,
// widget, appearance, AcroForm, xref. pdfsign writes an adbe.pkcs7.detached
// CMS with a signing-time attribute, which PAdES baseline forbids, so it
// signs with a throwaway key here and Sign replaces that CMS with its own.
// reserve bytes of padding enlarge the /Contents placeholder.
func layout(in []byte, o *Options, image []byte, reserve int) (out []byte, err error) {
	r, err := open(in, MaxBytes)
	if err != nil {
		return nil, err
	}
	throwaway, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("throwaway key: %w", err)
	}
	pad, err := asn1.Marshal(make([]byte, reserve))
	if err != nil {
		return nil, fmt.Errorf("placeholder padding: %w", err)
	}
	sd := sign.SignData{
		Signature: sign.SignDataSignature{
			CertType: sign.ApprovalSignature,
			Info: sign.SignDataSignatureInfo{
				Name: o.Name, Location: o.Location, Reason: o.Reason,
				ContactInfo: o.ContactInfo, Date: o.SigningTime,
			},
		},
		Signer:            throwaway,
		DigestAlgorithm:   crypto.SHA256,
		Certificate:       o.Certificate,
		CertificateChains: [][]*x509.Certificate{append([]*x509.Certificate{o.Certificate}, o.Chain...)},
		RevocationData:    revocation.InfoArchival{OCSP: revocation.OCSP{{FullBytes: pad}}},
	}
	if a := o.Visible; a != nil {
		sd.Appearance = sign.Appearance{
			Visible: true, Page: uint32(a.Page), Image: image,
			LowerLeftX: a.Rect[0], LowerLeftY: a.Rect[1], UpperRightX: a.Rect[2], UpperRightY: a.Rect[3],
		}
	}
	var buf bytes.Buffer
	err = guard(func() error { return sign.Sign(bytes.NewReader(in), &buf, r, int64(len(in)), sd) })
	if err != nil {
		return nil, fmt.Errorf("signing: lay out the signature: %w", err)
	}
	return buf.Bytes(), nil
}

// placeholder finds the ByteRange pdfsign wrote after the original bytes
// (n of them), blanks the /Contents it holds, and switches the SubFilter
// to ETSI.CAdES.detached (the same length, so no offset moves).
func placeholder(out []byte, n int) ([4]int, error) {
	var br [4]int
	tail := out[n:]
	i := bytes.Index(tail, []byte("/ByteRange ["))
	if i < 0 {
		return br, fmt.Errorf("signing: no ByteRange in the update")
	}
	end := bytes.IndexByte(tail[i:], ']')
	if end < 0 {
		return br, fmt.Errorf("signing: unterminated ByteRange")
	}
	fields := bytes.Fields(tail[i+len("/ByteRange [") : i+end])
	if len(fields) != 4 {
		return br, fmt.Errorf("signing: ByteRange %q", tail[i:i+end])
	}
	for k, f := range fields {
		v, err := strconv.Atoi(string(f))
		if err != nil || v < 0 {
			return br, fmt.Errorf("signing: ByteRange %q", tail[i:i+end])
		}
		br[k] = v
	}
	if br[0] != 0 || br[1] <= n || br[2] <= br[1]+2 || br[2]+br[3] != len(out) ||
		out[br[1]] != '<' || out[br[2]-1] != '>' {
		return br, fmt.Errorf("signing: inconsistent ByteRange %v in a %d-byte file", br, len(out))
	}
	for k := br[1] + 1; k < br[2]-1; k++ {
		out[k] = '0'
	}
	const from, to = "/SubFilter /adbe.pkcs7.detached", "/SubFilter /ETSI.CAdES.detached"
	dict := out[n:br[1]]
	if bytes.Count(dict, []byte(from)) != 1 {
		return br, fmt.Errorf("signing: SubFilter not found once in the signature dictionary")
	}
	j := bytes.Index(dict, []byte(from))
	copy(dict[j:], to)
	return br, nil
}

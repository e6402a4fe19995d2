package signing

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"image"
	"image/color"
	"image/png"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/psre/appliance/hsm"
	"github.com/psre/appliance/hsm/hsmtest"
	"golang.org/x/crypto/ocsp"
)

// specimen draws a transparent PNG with a black scribble, like the
// portal's signature pad produces.
func specimen(t testing.TB) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, newSpecimenImage()); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func newSpecimenImage() *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, 300, 120))
	for x := 10; x < 290; x++ {
		y := 60 + int(40*math.Sin(float64(x)/18))
		for d := -2; d <= 2; d++ {
			img.SetNRGBA(x, y+d, color.NRGBA{A: 0xff})
		}
	}
	return img
}

// ink counts the pixels of a rendered page inside the box (in pixels) that
// are dark (specimen) or blue (text lines), that is not the white paper.
func ink(t testing.TB, pngBytes []byte, box image.Rectangle) int {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(pngBytes))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for y := box.Min.Y; y < box.Max.Y; y++ {
		for x := box.Min.X; x < box.Max.X; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			if r < 0x8000 && g < 0x8000 || b > r+0x3000 {
				n++
			}
		}
	}
	return n
}

// pixelBox maps a user-space rect on an unrotated page of height h (points)
// to pixels at scale s.
func pixelBox(r [4]float64, h, s float64) image.Rectangle {
	return image.Rect(int(r[0]*s), int((h-r[3])*s), int(r[2]*s), int((h-r[1])*s))
}

func TestSignWithHSMKey(t *testing.T) {
	ctx := context.Background()
	env := hsmtest.New(t)
	tok := env.Token(t, "users")
	signer, _, err := tok.GenerateKeyPair(ctx, "subscriber-test", hsm.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	p := newPKI(t)
	cert := p.subscriber(t, signer.Public(), "Budi Santoso")
	in := makePDF(a4("Perjanjian kerja sama"), a4("Halaman dua"))
	calls := 0
	when := time.Now().Truncate(time.Second)
	rect := [4]float64{300, 100, 520, 190}
	opts := Options{
		Signer: signer, Certificate: cert, Chain: []*x509.Certificate{p.ca, p.root},
		OCSP: p.ocsp(t, cert, ocsp.Good), Timestamper: p.timestamper(&calls),
		Name: "Budi Santoso", Reason: "Menyetujui isi dokumen", Location: "Jakarta", ContactInfo: "budi@example.id",
		SigningTime: when,
		Visible:     &Appearance{Page: 2, Rect: rect, Specimen: specimen(t), Lines: []string{"Budi Santoso", when.Format("2006-01-02 15:04:05 MST")}},
	}
	out, err := Sign(ctx, in, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(out, in) {
		t.Error("the signed PDF does not start with the original bytes (not an incremental update)")
	}
	if calls != 1 {
		t.Errorf("timestamper called %d times, want 1", calls)
	}

	rep, err := VerifyBytes(out)
	if err != nil {
		t.Fatal(err)
	}
	if rep.SubFilter != "ETSI.CAdES.detached" || !rep.DigestOK || !rep.CoversWholeFile || rep.SigningTimeAttr ||
		!rep.SigningCertV2 || !rep.OCSPEmbedded || !rep.Timestamped || !rep.TimestampOK || rep.Certificates != 3 ||
		rep.SignerSerial.Cmp(cert.SerialNumber) != 0 || rep.Signatures != 1 || rep.Name != "Budi Santoso" {
		t.Errorf("report %+v", rep)
	}
	if !rep.ClaimedTime.Equal(when) || time.Since(rep.TimestampTime).Abs() > time.Minute {
		t.Errorf("claimed time %v (want %v), timestamp time %v", rep.ClaimedTime, when, rep.TimestampTime)
	}

	wantAll(t, "pdfsig", pdfsig(t, out, p.root),
		"Signer Certificate Common Name: Budi Santoso", "Signature Type: ETSI.CAdES.detached",
		"Signature Validation: Signature is Valid.", "Certificate Validation: Certificate is Trusted.",
		"Total document signed")
	printed := opensslChecks(t, out, p)
	i, j := strings.Index(printed, "signedAttrs:"), strings.Index(printed, "unsignedAttrs:")
	if i < 0 || j < i {
		t.Fatalf("openssl cms -print: no signedAttrs before unsignedAttrs:\n%s", printed)
	}
	signed, unsigned := printed[i:j], printed[j:]
	wantAll(t, "signed attributes", signed, "contentType", "messageDigest", "id-smime-aa-signingCertificateV2", "(1.2.840.113583.1.1.8)")
	wantNone(t, "signed attributes", signed, "signingTime")
	wantAll(t, "unsigned attributes", unsigned, "id-smime-aa-timeStampToken")
	qpdfCheck(t, out)

	// The visible signature is drawn where it was placed, on page 2 only.
	const side = 842
	for _, c := range []struct {
		pdf      []byte
		page     int
		wantInk  bool
		describe string
	}{
		{out, 2, true, "signed page 2"},
		{in, 2, false, "unsigned page 2"},
		{out, 1, false, "signed page 1"},
	} {
		img, err := RenderPage(ctx, c.pdf, c.page, side)
		if err != nil {
			t.Fatal(err)
		}
		if n := ink(t, img, pixelBox(rect, 842, 1)); (n > 500) != c.wantInk {
			t.Errorf("%s: %d ink pixels in the signature box", c.describe, n)
		}
	}
}

func TestTamperedSignatureIsRejected(t *testing.T) {
	p, out := signedSample(t)
	unsignedTail := append(append([]byte{}, out...), []byte("\n% appended\n")...)
	for _, c := range []struct {
		name    string
		pdf     []byte
		pdfsig  []string
		wantErr error
	}{
		{"page text changed", bytes.Replace(out, []byte("(Perjanjian)"), []byte("(Perjanjiam)"), 1),
			[]string{"Signature Validation: Digest Mismatch."}, ErrInvalid},
		{"signature dictionary changed", bytes.Replace(out, []byte("/Location (Jakarta)"), []byte("/Location (Jakartb)"), 1),
			[]string{"Signature Validation: Digest Mismatch."}, ErrInvalid},
		{"bytes appended", unsignedTail, []string{"Signature is Valid.", "Not total document signed"}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			if bytes.Equal(c.pdf, out) {
				t.Fatal("the test did not change the file")
			}
			wantAll(t, "pdfsig", pdfsig(t, c.pdf, p.root), c.pdfsig...)
			rep, err := VerifyBytes(c.pdf)
			if !errors.Is(err, c.wantErr) || (c.wantErr == nil && rep.CoversWholeFile) {
				t.Errorf("VerifyBytes: %v, %+v", err, rep)
			}
		})
	}
}

// signedSample signs a one-page PDF with a software key.
func signedSample(t testing.TB) (*testPKI, []byte) {
	t.Helper()
	p := newPKI(t)
	key := newKey(t)
	calls := 0
	out, err := Sign(context.Background(), makePDF(a4("Perjanjian")), Options{
		Signer: key, Certificate: p.subscriber(t, key.Public(), "Siti Aminah"), Chain: []*x509.Certificate{p.ca, p.root},
		Timestamper: p.timestamper(&calls), Name: "Siti Aminah", Location: "Jakarta",
	})
	if err != nil {
		t.Fatal(err)
	}
	return p, out
}

func TestSignRotatedObjectStreamsTwice(t *testing.T) {
	ctx := context.Background()
	p := newPKI(t)
	// qpdf rewrites the file with an xref stream and object streams.
	in := qpdf(t, makePDF(page{w: 842, h: 595, rotate: 90, text: "Lampiran"}), "--object-streams=generate")
	info, err := Inspect(in)
	if err != nil {
		t.Fatal(err)
	}
	ps := info.PageSizes[0]
	if vw, vh := ps.ViewSize(); vw != 595 || vh != 842 || ps.Rotate != 90 {
		t.Fatalf("page %+v", ps)
	}
	// A box in the top-left corner of the page as viewers show it.
	rect := ps.RectFromView(40, 40, 200, 80)
	var signers []string
	out := in
	for _, name := range []string{"Andi Wijaya", "Dewi Lestari"} {
		key := newKey(t)
		calls := 0
		out, err = Sign(ctx, out, Options{
			Signer: key, Certificate: p.subscriber(t, key.Public(), name), Chain: []*x509.Certificate{p.ca},
			Timestamper: p.timestamper(&calls), Name: name,
			Visible: &Appearance{Page: 1, Rect: rect, Specimen: specimen(t), Lines: []string{name}},
		})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		signers = append(signers, name)
	}
	report := pdfsig(t, out, p.root)
	if n := strings.Count(report, "Signature is Valid."); n != 2 {
		t.Errorf("pdfsig: %d valid signatures, want 2:\n%s", n, report)
	}
	wantAll(t, "pdfsig", report, "Signer Certificate Common Name: "+signers[0], "Signer Certificate Common Name: "+signers[1])
	qpdfCheck(t, out)
	rep, err := VerifyBytes(out)
	if err != nil || rep.Signatures != 2 || rep.Certificate.Subject.CommonName != signers[1] {
		t.Errorf("VerifyBytes: %v, %+v", err, rep)
	}
	img, err := RenderPage(ctx, out, 1, 842)
	if err != nil {
		t.Fatal(err)
	}
	if n := ink(t, img, image.Rect(40, 40, 240, 120)); n < 500 {
		t.Errorf("%d ink pixels in the top-left box of the rotated page", n)
	}
}

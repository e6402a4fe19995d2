package signing

import (
	"bytes"
	"compress/zlib"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/psre/appliance/ca/tsa"
	"github.com/psre/appliance/hsm"
	"github.com/psre/appliance/hsm/hsmtest"
	"golang.org/x/crypto/ocsp"
)

// BenchmarkSignPDF signs a 1 MB PDF (four scanned A4 pages with an OCR text
// layer, see makeScanPDF) end to end as the appliance does: signing.Inspect
// of the upload (qpdf --check included), then Sign with a P-256 key on
// SoftHSM, the chain, an embedded OCSP response, a visible appearance with
// a PNG specimen, and a timestamp from the appliance's TSA in process
// (ca/tsa, its P-256 key on a second SoftHSM token, its serials from the
// token's RNG). It reports:
//
//   - signatures/s: one stream of Inspect+Sign, back to back;
//   - hsm-%: the subscriber key's Sign calls (SoftHSM) in the wall time;
//   - tsa-%: the Timestamper's calls, which hold one SoftHSM signature of
//     the TSA key (tsa-hsm-%, part of tsa-%) and the token's
//     construction, RNG draws and check;
//   - pdf-%: the rest: Inspect (qpdf --check in a separate process and the
//     Go parser), Sign's own inspection, pdfsign's incremental update, the
//     appearance image, CMS assembly and the self-check (VerifyBytes);
//   - qpdf-cpu-%: the CPU time of the qpdf --check processes in the wall
//     time (part of pdf-%; a floor for their wall time when the machine
//     is busy), and qpdf-ms, one qpdf --check of the input timed apart;
//   - hsm-signs/s: the same subscriber key signing bare digests in the
//     same run, and sigs/hsm-sign, the ratio of the two rates.
//
// Run it with go test -run '^$' -bench SignPDF -benchtime 20x ./signing/;
// the figures of a run are in README.md ("PDF signatures").
func BenchmarkSignPDF(b *testing.B) {
	ctx := context.Background()
	env := hsmtest.New(b)
	users := env.Token(b, "users")
	caTok := env.Token(b, "ca")
	key, _, err := users.GenerateKeyPair(ctx, "bench", hsm.ECDSAP256)
	if err != nil {
		b.Fatal(err)
	}
	tsaKey, _, err := caTok.GenerateKeyPair(ctx, "tsa", hsm.ECDSAP256)
	if err != nil {
		b.Fatal(err)
	}
	p := newPKI(b)
	cert := p.subscriber(b, key.Public(), "Budi Santoso")
	ocspResp := p.ocsp(b, cert, ocsp.Good) // pre-signed, as the OCSP responder keeps them

	var hsmTime, tsaTime, tsaHSMTime atomic.Int64
	var hsmCalls, tsaCalls atomic.Int64
	signer := &timedSigner{Signer: key, d: &hsmTime, n: &hsmCalls}
	responder, err := tsa.New(tsa.Config{
		Signer: &timedSigner{Signer: tsaKey, d: &tsaHSMTime, n: new(atomic.Int64)}, Certificate: benchTSACert(b, p, tsaKey.Public()),
		Chain: []*x509.Certificate{p.ca, p.root}, Policy: asn1.ObjectIdentifier{2, 16, 360, 1, 99999, 2, 1},
		Accuracy: time.Second, Random: caTok.Random(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		b.Fatal(err)
	}
	stamper := TimestamperFunc(func(ctx context.Context, digest []byte, h crypto.Hash) ([]byte, error) {
		start := time.Now()
		defer func() { tsaTime.Add(int64(time.Since(start))); tsaCalls.Add(1) }()
		return responder.Timestamp(ctx, digest, h, nil)
	})

	in := makeScanPDF(b, 4)
	mark := specimen(b)
	const name = "Budi Santoso"
	wib := time.FixedZone("WIB", 7*60*60)
	signPDF := func() ([]byte, error) {
		info, err := Inspect(in)
		if err != nil {
			return nil, err
		}
		last := info.PageSizes[info.Pages-1]
		now := time.Now()
		return Sign(ctx, in, Options{
			Signer: signer, Certificate: cert, Chain: []*x509.Certificate{p.ca, p.root}, OCSP: ocspResp,
			Timestamper: stamper, Name: name, Reason: "Tanda tangan elektronik", SigningTime: now,
			Visible: &Appearance{Page: info.Pages, Rect: last.RectFromView(330, 640, 220, 90), Specimen: mark,
				Lines: []string{name, now.In(wib).Format("2006-01-02 15:04 WIB")}},
		})
	}

	// One untimed signature: crypto11's session, the first SoftHSM
	// operations and the output's checks are out of the figures.
	out, err := signPDF()
	if err != nil {
		b.Fatal(err)
	}
	rep, err := VerifyBytes(out)
	if err != nil || !rep.TimestampOK || !rep.OCSPEmbedded || rep.SignerSerial.Cmp(cert.SerialNumber) != 0 {
		b.Fatalf("the signed PDF: %v, %+v", err, rep)
	}
	for _, c := range []*atomic.Int64{&hsmTime, &tsaTime, &tsaHSMTime, &hsmCalls, &tsaCalls} {
		c.Store(0)
	}

	var wall time.Duration
	n := 0
	qpdfCPU0 := childCPU()
	for b.Loop() {
		start := time.Now()
		if _, err := signPDF(); err != nil {
			b.Fatal(err)
		}
		wall += time.Since(start)
		n++
	}
	qpdfCPU := childCPU() - qpdfCPU0

	// The raw rate of the same key in the same run, and one qpdf --check.
	digest := sha256.Sum256([]byte("bench"))
	const rawOps = 1000
	rawStart := time.Now()
	for range rawOps {
		if _, err := key.Sign(rand.Reader, digest[:], crypto.SHA256); err != nil {
			b.Fatal(err)
		}
	}
	rawRate := rawOps / time.Since(rawStart).Seconds()
	const checks = 5
	qpdfStart := time.Now()
	for range checks {
		if err := qpdfGate(in); err != nil {
			b.Fatal(err)
		}
	}
	qpdfMS := float64(time.Since(qpdfStart).Microseconds()) / 1000 / checks

	share := func(d int64) float64 { return 100 * float64(d) / float64(wall) }
	rate := float64(n) / wall.Seconds()
	hsmPct, tsaPct := share(hsmTime.Load()), share(tsaTime.Load())
	b.ReportMetric(rate, "signatures/s")
	b.ReportMetric(hsmPct, "hsm-%")
	b.ReportMetric(100-hsmPct-tsaPct, "pdf-%")
	b.ReportMetric(tsaPct, "tsa-%")
	b.ReportMetric(share(tsaHSMTime.Load()), "tsa-hsm-%")
	b.ReportMetric(share(int64(qpdfCPU)), "qpdf-cpu-%")
	b.ReportMetric(rawRate, "hsm-signs/s")
	b.ReportMetric(rate/rawRate, "sigs/hsm-sign")
	b.ReportMetric(qpdfMS, "qpdf-ms")
	per := func(d int64) float64 { return float64(d) / float64(n) / 1e6 }
	b.Logf("%d signatures of a %d-byte PDF (output %d bytes): %.1f/s, %.1f ms each: HSM %.2f ms (%d calls), TSA %.2f ms (%d calls; its HSM signature %.2f ms), PDF work %.1f ms (qpdf CPU %.1f ms); raw HSM %.0f signs/s; one qpdf --check %.1f ms",
		n, len(in), len(out), rate, per(int64(wall)), per(hsmTime.Load()), hsmCalls.Load(), per(tsaTime.Load()), tsaCalls.Load(),
		per(tsaHSMTime.Load()), per(int64(wall)-hsmTime.Load()-tsaTime.Load()), per(int64(qpdfCPU)), rawRate, qpdfMS)
}

// childCPU is the CPU time (user and system) of the process's finished
// children: in this benchmark, the qpdf --check runs.
func childCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// timedSigner adds the duration of each Sign call to d and counts it in n.
type timedSigner struct {
	crypto.Signer
	d, n *atomic.Int64
}

func (s *timedSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	start := time.Now()
	sig, err := s.Signer.Sign(r, digest, opts)
	s.d.Add(int64(time.Since(start)))
	s.n.Add(1)
	return sig, err
}

// benchTSACert issues a TSA certificate for pub under p's issuing CA, with
// the critical id-kp-timeStamping EKU (alone) that ca/tsa requires.
func benchTSACert(t testing.TB, p *testPKI, pub crypto.PublicKey) *x509.Certificate {
	t.Helper()
	eku, err := asn1.Marshal([]asn1.ObjectIdentifier{{1, 3, 6, 1, 5, 5, 7, 3, 8}})
	if err != nil {
		t.Fatal(err)
	}
	return issue(t, &x509.Certificate{
		SerialNumber: serial(t), Subject: pkix.Name{Country: []string{"ID"}, CommonName: "PSrE Bench TSA"},
		NotBefore: p.now.Add(-time.Hour), NotAfter: p.now.Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 37}, Critical: true, Value: eku}},
	}, p.ca, pub, p.caKey)
}

// makeScanPDF writes a PDF like a scanned contract: pages A4 pages, each a
// 150 dpi greyscale JPEG (DCTDecode, ~240 KB) under an invisible OCR text
// layer (a Flate-compressed content stream), with a classic
// cross-reference table. It is deterministic and qpdf --check accepts it.
func makeScanPDF(t testing.TB, pages int) []byte {
	t.Helper()
	rng := mrand.New(mrand.NewPCG(1, 2))
	const w, h = 1240, 1754 // A4 at 150 dpi
	font := 3 + 3*pages
	objs := []string{"<< /Type /Catalog /Pages 2 0 R >>"}
	kids := make([]string, pages)
	for i := range kids {
		kids[i] = fmt.Sprintf("%d 0 R", 3+3*i)
	}
	objs = append(objs, fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", strings.Join(kids, " "), pages))
	for i := range pages {
		img := image.NewGray(image.Rect(0, 0, w, h))
		for y := range h {
			for x := range w {
				img.Pix[y*w+x] = uint8(228 + rng.IntN(8)) // paper grain
			}
		}
		var text strings.Builder
		text.WriteString("q 595 0 0 842 0 0 cm /Im0 Do Q\nBT 3 Tr /F1 10 Tf\n")
		for line := 0; line < 50; line++ {
			y0 := 150 + line*30
			x := 150
			var words []string
			for x < w-150 {
				ww := 20 + rng.IntN(90)
				for y := y0; y < y0+16; y++ {
					for xx := x; xx < min(x+ww, w-150); xx++ {
						img.Pix[y*w+xx] = uint8(30 + rng.IntN(16)) // ink
					}
				}
				words = append(words, strings.Repeat("x", 1+ww/10))
				x += ww + 12
			}
			fmt.Fprintf(&text, "1 0 0 1 72 %d Tm (%s) Tj\n", 842-72-line*14, strings.Join(words, " "))
		}
		text.WriteString("ET")
		var jpg bytes.Buffer
		if err := jpeg.Encode(&jpg, img, &jpeg.Options{Quality: 75}); err != nil {
			t.Fatal(err)
		}
		var content bytes.Buffer
		zw := zlib.NewWriter(&content)
		if _, err := zw.Write([]byte(text.String())); err != nil {
			t.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		objs = append(objs,
			fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents %d 0 R /Resources << /Font << /F1 %d 0 R >> /XObject << /Im0 %d 0 R >> >> >>",
				4+3*i, font, 5+3*i),
			fmt.Sprintf("<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream", content.Len(), content.Bytes()),
			fmt.Sprintf("<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /DCTDecode /Length %d >>\nstream\n%s\nendstream",
				w, h, jpg.Len(), jpg.Bytes()))
	}
	objs = append(objs, "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	offsets := make([]int, len(objs))
	for i, o := range objs {
		offsets[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R /ID [<0123456789abcdef0123456789abcdef> <0123456789abcdef0123456789abcdef>] >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, xref)
	return b.Bytes()
}

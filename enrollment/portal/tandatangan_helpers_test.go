package portal_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"sync"
	"testing"

	"github.com/psre/appliance/enrollment"
	"github.com/psre/appliance/store"
)

// fakeSigner stands in for the HSM, the signing package and the TSA
// (cmd/appliance's signing end-to-end test runs the real ones): it
// records each request and appends a marker to the PDF.
type fakeSigner struct {
	mu   sync.Mutex
	reqs []enrollment.SignRequest
}

const fakeTimestampSerial = "7f3a9c"

func (f *fakeSigner) SignPDF(_ context.Context, r enrollment.SignRequest) ([]byte, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reqs = append(f.reqs, r)
	return append(bytes.Clone(r.PDF), "%signed\n"...), fakeTimestampSerial, nil
}

func (f *fakeSigner) requests() []enrollment.SignRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]enrollment.SignRequest(nil), f.reqs...)
}

// signingEnv is a portal whose service signs with a fakeSigner, and
// Budi logged in with his certificate issued.
type signingEnv struct {
	*env
	signer *fakeSigner
	b      *browser
	id     string
	a      applicant
}

func newSigningEnv(t testing.TB) *signingEnv {
	t.Helper()
	e := newEnv(t)
	f := &fakeSigner{}
	if err := e.svc.WithSigning(f); err != nil {
		t.Fatal(err)
	}
	a := budi()
	b, id, token := e.approved(a, e.staff())
	e.issued(b, a, token, budiPhone)
	return &signingEnv{env: e, signer: f, b: b, id: id, a: a}
}

// upload posts a PDF to the Tandatangan page.
func (s *signingEnv) upload(name string, pdf []byte) page {
	s.t.Helper()
	s.b.get("/tandatangan")
	return s.b.postFiles("/tandatangan", nil, false, file{"pdf", name, pdf})
}

// docForm is the hidden fields of the code and signing forms for pdf.
func docForm(pdf []byte, page, pos string) url.Values {
	h := sha256.Sum256(pdf)
	return url.Values{"document": {hex.EncodeToString(h[:])}, "page": {page}, "pos": {pos}}
}

// signForm is docForm with the password and the code.
func signForm(pdf []byte, page, pos, password, code string) url.Values {
	v := docForm(pdf, page, pos)
	v.Set("password", password)
	v.Set("code", code)
	return v
}

// signatures is the subscriber's signature log.
func (s *signingEnv) signatures() []store.Signature {
	s.t.Helper()
	list, err := s.svc.Signatures(s.id)
	if err != nil {
		s.t.Fatal(err)
	}
	return list
}

// smsTo lists the texts of the SMS codes sent to phone for signing.
func (s *signingEnv) signingSMS(phone string) []map[string]any {
	var out []map[string]any
	for _, n := range s.notifications() {
		if n.Kind == "otp_sms" && n.To == phone && n.Data["Purpose"] != nil && n.Data["Purpose"] != "" {
			out = append(out, n.Data)
		}
	}
	return out
}

// pdfWithID is minimalPDF(n) with a document ID that makes it distinct.
func pdfWithID(n int, id string) []byte {
	return minimalPDF(n, "/ID [<"+id+"> <"+id+">]")
}

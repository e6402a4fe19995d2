package portal_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/psre/appliance/enrollment/portal"
	"github.com/psre/appliance/signing"
)

// FuzzTandatanganUpload posts arbitrary bytes as the PDF to sign through
// the portal's upload handler (multipart parsing, the size bound, the PDF
// slots, signing.Inspect with qpdf and the parser): every input is either
// kept for signing or refused with a message, never a server error or a
// crash, and nothing is ever signed or sent.
func FuzzTandatanganUpload(f *testing.F) {
	for _, seed := range [][]byte{
		minimalPDF(1, ""), minimalPDF(3, "/ID [<00> <00>]"), minimalPDF(1, encryptTrailer), minimalPDF(2, "")[:150],
		[]byte("%PDF-1.7\n%%EOF\n"), []byte("%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 1 0 R >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF"),
		[]byte("%PDF-1.7\n1 0 obj [ % comment ]\nendobj\n%%EOF\n"), []byte(strings.Repeat("[", 5000)), nil, []byte("GIF89a"),
	} {
		f.Add(seed)
	}
	s := newSigningEnv(f)
	sent := len(s.notifications())
	f.Fuzz(func(t *testing.T, data []byte) {
		s.env.t, s.b.t = t, t // f's methods may not be called in here
		pg := s.upload("fuzz.pdf", data)
		switch {
		case pg.status == http.StatusOK && pg.path == "/tandatangan" && strings.Contains(pg.body, `id="doc-sha256"`):
		case pg.status == http.StatusUnprocessableEntity && text(pg.body, "tandatangan-error") != "":
		default:
			t.Fatalf("upload of %d bytes: %d %s\n%.2000s", len(data), pg.status, pg.path, pg.body)
		}
		if len(s.signer.requests()) != 0 || len(s.signatures()) != 0 || len(s.notifications()) != sent {
			t.Fatal("an upload signed or sent something")
		}
	})
}

// TestTandatanganCatalogs: every key the signing pages use, and every
// key signing.MessageKey returns, is in both catalogs.
func TestTandatanganCatalogs(t *testing.T) {
	e := newEnv(t)
	keys := []string{"nav.tandatangan", "tandatangan.title", "tandatangan.not_issued", "tandatangan.revoked", "tandatangan.expired",
		"tandatangan.not_usable", "tandatangan.unavailable", "tandatangan.failed", "tandatangan.file_required",
		"tandatangan.password_required", "tandatangan.password_wrong", "tandatangan.document_changed", "tandatangan.signed",
		"tandatangan.code_sent", "tandatangan.code_sent_flash", "tandatangan.no_signed", "tandatangan.placement",
		"tandatangan.preview", "profile.signatures", "profile.signatures_none", "profile.sig_incomplete", "session.expired",
		"login.throttled", "login.throttled_one", "otp.format"}
	for _, p := range []string{"bottom-right", "bottom-left", "top-right", "top-left"} {
		keys = append(keys, "tandatangan.pos."+p)
	}
	for _, err := range []error{signing.ErrNotPDF, signing.ErrEncrypted, signing.ErrBroken, signing.ErrTooLarge,
		signing.ErrTooManyPages, signing.ErrPlacement, signing.ErrSpecimen, signing.ErrTimestamp, signing.ErrRevoked,
		signing.ErrNoSignature, signing.ErrInvalid} {
		keys = append(keys, signing.MessageKey(err))
	}
	for _, k := range keys {
		for _, l := range []string{"id", "en"} {
			if _, ok := portal.Message(e.p, l, k); !ok || k == "" {
				t.Errorf("no message %q in %s", k, l)
			}
		}
	}
}

package portal_test

import (
	"bytes"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/psre/appliance/enrollment"
)

// toReview takes applicant id to ra_review through the Service (the
// applicant's steps are tested over HTTP in TestVerificationAndPayment).
func (e *env) toReview(id string, s staff) {
	e.t.Helper()
	ctx := e.t.Context()
	e.must(e.svc.RequestVerification(ctx, id))
	e.must(e.svc.IssueInvoice(ctx, s.cs, id))
	e.must(e.svc.SubmitPaymentProof(ctx, id, minimalPDF(1, ""), "application/pdf"))
	e.must(e.svc.ConfirmPayment(ctx, s.cs, id))
}

// TestCorrections: after a correctable RA rejection the account page shows
// the reason and the named fields, the correction page asks for exactly
// those; anything else is refused and changes nothing; a good correction
// goes back to RA review. A final rejection offers no correction.
func TestCorrections(t *testing.T) {
	e := newEnv(t)
	s := e.staff()
	a := budi()
	b, id := e.signedIn(a)
	// Another applicant holds a NIK that agrees with Budi's birth date.
	twin := applicant{nik: "3171011208900005", name: "Budi Lain", birth: a.birth, username: "budi.lain",
		password: "angin-bertiup-kencang", email: "lain@example.co.id", phone: "0813-9999-8888"}
	if pg := e.browser().register(twin); pg.path != "/register/selesai" {
		t.Fatalf("second registration: %s", pg.path)
	}
	if pg := b.get("/account/corrections"); pg.path != "/account" {
		t.Errorf("correction page before any rejection: %s", pg.path)
	}
	e.toReview(id, s)
	reason := "Selfie buram dan NIK salah ketik"
	e.must(e.svc.Reject(t.Context(), s.ra, id, reason, []string{"selfie", "nik"}, true))
	for _, lang := range []string{"id", "en"} {
		pg := b.get("/account?lang=" + lang)
		want := []string{mustText(t, e, lang, "correct.nik"), mustText(t, e, lang, "correct.selfie")}
		if !strings.Contains(pg.body, `data-state="rejected_correctable"`) || text(pg.body, "rejection-reason") != reason ||
			!slices.Equal(items(pg.body, "rejection-fields"), want) || !strings.Contains(pg.body, `href="/account/corrections"`) {
			t.Fatalf("%s: account page after a correctable rejection: fields %q\n%s", lang, items(pg.body, "rejection-fields"), pg.body)
		}
	}
	b.get("/account?lang=id")
	pg := b.get("/account/corrections")
	strict(t, pg)
	for _, f := range enrollment.CorrectableFields {
		if got, want := strings.Contains(pg.body, `name="`+f+`"`), f == "nik" || f == "selfie"; got != want {
			t.Errorf("correction page: input %s shown: %v, want %v", f, got, want)
		}
	}
	if !strings.Contains(pg.body, "Foto Selfie") || text(pg.body, "rejection-reason") != reason {
		t.Errorf("correction page labels or reason:\n%s", pg.body)
	}

	selfie := file{"selfie", "selfie.jpg", jpegImage(t, 480, 480)}
	newNIK := "3171011208900009"
	cases := []struct {
		name    string
		lang    string
		form    url.Values
		files   []file
		noToken bool
		status  int
		key     string
		at      string // the id of the element holding the message
	}{
		{"field not named: name", "id", url.Values{"nik": {newNIK}, "name": {"Budi S"}}, []file{selfie}, false, 422, "corrections.not_requested", "corrections-error"},
		{"field not named, in English", "en", url.Values{"nik": {newNIK}, "name": {"Budi S"}}, []file{selfie}, false, 422, "corrections.not_requested", "corrections-error"},
		{"file not named: KTP photo", "id", url.Values{"nik": {newNIK}}, []file{selfie, {"ktp_photo", "ktp.jpg", jpegImage(t, 640, 400)}}, false, 422, "corrections.not_requested", "corrections-error"},
		{"named field empty", "id", url.Values{"nik": {" "}}, []file{selfie}, false, 422, "corrections.required", "f-nik-error"},
		{"named file missing", "id", url.Values{"nik": {newNIK}}, nil, false, 422, "corrections.file_required", "f-selfie-error"},
		{"NIK disagrees with the birth date", "id", url.Values{"nik": {"3171011208910009"}}, []file{selfie}, false, 422, "nik.birth_mismatch", "f-nik-error"},
		{"NIK disagrees, in English", "en", url.Values{"nik": {"3171011208910009"}}, []file{selfie}, false, 422, "nik.birth_mismatch", "f-nik-error"},
		{"NIK of another applicant", "id", url.Values{"nik": {twin.nik}}, []file{selfie}, false, 422, "taken.nik", "f-nik-error"},
		{"selfie not an image", "id", url.Values{"nik": {newNIK}}, []file{{"selfie", "selfie.jpg", []byte("bukan foto")}}, false, 422, "upload.not_image", "f-selfie-error"},
		{"no CSRF token", "id", url.Values{"nik": {newNIK}}, []file{selfie}, true, http.StatusForbidden, "error.forbidden", "error-message"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b.get("/account/corrections?lang=" + c.lang)
			before := e.snapshot(id)
			pg := b.postFiles("/account/corrections", c.form, c.noToken, c.files...)
			if pg.status != c.status || text(pg.body, c.at) != mustText(t, e, c.lang, c.key) {
				t.Errorf("HTTP %d, %s = %q; want %d with %s", pg.status, c.at, text(pg.body, c.at), c.status, c.key)
			}
			if e.snapshot(id) != before {
				t.Error("a refused correction changed the application")
			}
			if nik := c.form.Get("nik"); c.status == 422 && strings.TrimSpace(nik) != "" && !strings.Contains(pg.body, `value="`+nik+`"`) {
				t.Error("the NIK typed is not shown again")
			}
		})
	}
	b.get("/account?lang=id")
	rec, _ := e.db.Applicant(id)
	if nik, _ := e.svc.Personal(rec, "nik"); string(nik) != a.nik {
		t.Fatalf("a refused correction changed the NIK: %s", nik)
	}

	pg = b.postFiles("/account/corrections", url.Values{"nik": {newNIK}}, false, selfie)
	if pg.path != "/account" || !strings.Contains(pg.body, `data-state="ra_review"`) ||
		text(pg.body, "flash") != mustText(t, e, "id", "flash.corrections_sent") {
		t.Fatalf("good correction: %s\n%s", pg.path, pg.body)
	}
	rec, _ = e.db.Applicant(id)
	if nik, _ := e.svc.Personal(rec, "nik"); string(nik) != newNIK {
		t.Errorf("corrected NIK %s", nik)
	}
	if img, _ := e.svc.Personal(rec, "selfie"); len(img) == 0 || bytes.Equal(img, selfie.data) || !bytes.HasPrefix(img, []byte("\xff\xd8\xff")) {
		t.Error("the corrected selfie was not stored re-encoded")
	}
	if h := e.app(id).History; h[len(h)-1].Actor != "applicant:"+id || h[len(h)-1].To != enrollment.StateRAReview {
		t.Errorf("last transition %+v", h[len(h)-1])
	}

	e.must(e.svc.Reject(t.Context(), s.ra, id, "Dokumen palsu", nil, false))
	pg = b.get("/account")
	if !strings.Contains(pg.body, `data-state="rejected"`) || text(pg.body, "rejection-reason") != "Dokumen palsu" ||
		!strings.Contains(pg.body, `id="rejection-final"`) || strings.Contains(pg.body, `href="/account/corrections"`) {
		t.Fatalf("after a final rejection:\n%s", pg.body)
	}
	before := e.snapshot(id)
	if pg := b.postFiles("/account/corrections", url.Values{"nik": {"3171011208900008"}}, false, selfie); pg.path != "/account" || e.snapshot(id) != before {
		t.Error("a correction after the final rejection was taken")
	}
}

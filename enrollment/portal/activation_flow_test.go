package portal_test

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/psre/appliance/enrollment"
	"github.com/psre/appliance/hsm"
	"github.com/psre/appliance/store"
)

const budiPhone = "+6281234567890"

// TestActivationToRevocation walks seed steps 16 to 22 and the
// subscriber's revocation through the pages: link, "Aktivasi", email
// code, phone code with both consents, the profile with its certificate
// and downloads, then the revocation with password and SMS code.
func TestActivationToRevocation(t *testing.T) {
	e := newEnv(t)
	s := e.staff()
	a := budi()
	b, id, token := e.approved(a, s)

	pg := b.start(token)
	strict(t, pg)
	if pg.path != "/aktivasi/email" || pg.status != http.StatusOK || e.app(id).State != enrollment.StateActivationEmailOTP ||
		!strings.Contains(pg.body, `autocomplete="one-time-code"`) || !strings.Contains(pg.body, `inputmode="numeric"`) ||
		text(pg.body, "code-target") != fmt.Sprintf(mustText(t, e, "id", "otp.email_sent"), "b***@example.co.id") {
		t.Fatalf("after Aktivasi: %s %d\n%s", pg.path, pg.status, pg.body)
	}
	if strings.Contains(pg.body, token) {
		t.Error("the email OTP page shows the link's token")
	}
	if pg := b.get("/account"); !strings.Contains(pg.body, `id="next-link" href="/aktivasi/email"`) {
		t.Error("the account page does not resume the email step")
	}

	emailCode := e.code("otp_email", a.email)
	pg = b.post("/aktivasi/email", url.Values{"code": {emailCode[:3] + " " + emailCode[3:]}})
	strict(t, pg)
	if pg.path != "/aktivasi/telepon" || text(pg.body, "flash") != mustText(t, e, "id", "flash.email_verified") ||
		text(pg.body, "code-target") != fmt.Sprintf(mustText(t, e, "id", "otp.phone_sent"), "+62812****7890") {
		t.Fatalf("after the email code: %s\n%s", pg.path, pg.body)
	}
	for _, want := range []string{`id="consent-issuance-text"`, `id="consent-ownership-text"`, "Persetujuan Penerbitan Sertifikat Elektronik",
		"Perjanjian Kepemilikan Sertifikat", `name="issuance_version" value="` + consentsInForce.Issuance + `"`,
		`name="ownership_version" value="` + consentsInForce.Ownership + `"`, "Peraturan Pemerintah Nomor 71 Tahun 2019", "Nomor 11 Tahun 2022", "HSM",
		`id="code-submit">Proses Kode OTP</button>`, `action="/aktivasi/telepon/kirim-ulang"`} {
		if !strings.Contains(pg.body, want) {
			t.Errorf("the phone OTP page lacks %q", want)
		}
	}
	if strings.Contains(pg.body, budiPhone) {
		t.Error("the phone OTP page shows the whole phone number")
	}
	if pg := b.get("/account"); !strings.Contains(pg.body, `id="next-link" href="/aktivasi/telepon"`) {
		t.Error("the account page does not resume the phone step")
	}

	pg = b.post("/aktivasi/telepon", phoneForm(e.code("otp_sms", budiPhone)))
	strict(t, pg)
	if pg.path != "/account/profile" || text(pg.body, "flash") != mustText(t, e, "id", "flash.certificate_issued") {
		t.Fatalf("after Proses Kode OTP: %s\n%s", pg.path, pg.body)
	}
	app := e.app(id)
	if app.State != enrollment.StateIssued || app.Issuance.Consents["issuance"] != consentsInForce.Issuance ||
		app.Issuance.Consents["ownership"] != consentsInForce.Ownership {
		t.Fatalf("application after issuance: %s %+v", app.State, app.Issuance)
	}
	if n := e.keys.count("privkey", ""); n != 1 {
		t.Fatalf("%d private keys on the users token, want 1", n)
	}
	cert := checkProfile(t, e, b, pg, app)
	signer, err := e.keys.tok.Signer(t.Context(), hsm.URI{Token: "users", Object: app.Issuance.KeyLabel})
	if err != nil || !signer.Public().(*ecdsa.PublicKey).Equal(cert.PublicKey) {
		t.Fatalf("the certificate is not of the key in the HSM: %v", err)
	}
	checkDownloads(t, e, b, cert)
	if pg := b.get("/account"); !strings.Contains(pg.body, `id="next-link" href="/account/profile"`) {
		t.Error("the account page of an issued application does not link the profile")
	}

	// Revocation: the code by SMS, a wrong password, then the right one.
	pg = b.post("/account/revoke/code", nil)
	if pg.path != "/account/profile" || text(pg.body, "flash") != mustText(t, e, "id", "flash.revocation_code_sent") {
		t.Fatalf("revocation code: %s %q", pg.path, text(pg.body, "flash"))
	}
	revokeCode := e.code("otp_sms", budiPhone)
	before := e.snapshot(id)
	form := url.Values{"reason": {"5"}, "password": {"not-my-password-1"}, "code": {revokeCode}}
	pg = b.post("/account/revoke", form)
	if pg.status != http.StatusUnprocessableEntity || text(pg.body, "revoke-error") != mustText(t, e, "id", "revoke.password_wrong") ||
		!strings.Contains(pg.body, `value="5" required checked`) || e.snapshot(id) != before {
		t.Fatalf("wrong password: %d %q", pg.status, text(pg.body, "revoke-error"))
	}
	form.Set("password", a.password)
	pg = b.post("/account/revoke", form)
	if pg.path != "/account/profile" || text(pg.body, "flash") != mustText(t, e, "id", "flash.certificate_revoked") ||
		!strings.Contains(pg.body, `data-status="revoked"`) || strings.Contains(pg.body, `id="revoke-form"`) {
		t.Fatalf("after the revocation: %s\n%s", pg.path, pg.body)
	}
	rec, err := e.db.Certificate(app.Certificate.Serial)
	if issued, revoked := e.ca.counts(); err != nil || rec.Status != store.StatusRevoked || rec.Reason != enrollment.ReasonCessationOfOperation ||
		e.app(id).State != enrollment.StateRevoked || issued != 1 || revoked != 1 {
		t.Fatalf("after the revocation: record %+v (%v), state %s, CA issued/revoked %d/%d", rec.Status, err, e.app(id).State, issued, revoked)
	}
	if want := fmt.Sprintf(mustText(t, e, "id", "profile.status_revoked"), ""); !strings.HasPrefix(text(pg.body, "cert-status"), want) {
		t.Errorf("status %q", text(pg.body, "cert-status"))
	}
	if n := e.keys.count("privkey", "") + e.keys.count("pubkey", ""); n != 0 {
		t.Fatalf("%d key objects left on the users token after the revocation", n)
	}
	if pg := b.get("/account/certificate.pem"); pg.status != http.StatusOK {
		t.Errorf("the download of the revoked certificate: %d, want 200", pg.status)
	}
	logs := e.logs.String()
	for _, secret := range []string{token, emailCode, revokeCode, a.password, budiPhone, a.email} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log holds %q", secret)
		}
	}
}

// checkProfile checks the profile page of a fresh certificate and returns
// the certificate.
func checkProfile(t *testing.T, e *env, b *browser, pg page, app store.Application) *x509.Certificate {
	t.Helper()
	der, _, _, err := e.svc.CertificateOf(t.Context(), app.ApplicantID)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	fp := sha256.Sum256(der)
	wantFP := strings.ToUpper(fmt.Sprintf("% x", fp[:]))
	wantFP = strings.ReplaceAll(wantFP, " ", ":")
	for id, want := range map[string]string{
		"profile-name": "Budi Santoso", "profile-username": "budi.santoso", "profile-email": "budi@example.co.id",
		"profile-phone": budiPhone, "cert-serial": strings.ToUpper(app.Certificate.Serial), "cert-fingerprint": wantFP,
		"cert-status": mustText(t, e, "id", "profile.status_good"), "cert-subject": cert.Subject.String(),
	} {
		if got := text(pg.body, id); got != want {
			t.Errorf("profile %s: %q, want %q", id, got, want)
		}
	}
	if got := text(pg.body, "cert-not-after"); !strings.HasSuffix(got, " WIB") || !strings.Contains(got, fmt.Sprint(cert.NotAfter.Year())) {
		t.Errorf("not after %q", got)
	}
	if !strings.Contains(pg.body, "Budi Santoso") || strings.Contains(pg.body, budi().nik) || strings.Contains(cert.Subject.String(), budi().nik) {
		t.Error("the NIK shows on the profile or in the certificate")
	}
	if !strings.Contains(pg.body, `id="revoke-form"`) || !strings.Contains(pg.body, `id="nav-profile" href="/account/profile"`) {
		t.Error("no revocation form or no Profil link")
	}
	return cert
}

// checkDownloads fetches the three formats and reads them with
// crypto/x509 and openssl.
func checkDownloads(t *testing.T, e *env, b *browser, cert *x509.Certificate) {
	t.Helper()
	serial := strings.ToUpper(cert.SerialNumber.Text(16))
	for _, d := range []struct{ ext, ctype string }{
		{"pem", "application/x-pem-file"}, {"cer", "application/pkix-cert"}, {"p7b", "application/pkcs7-mime"},
	} {
		pg := b.get("/account/certificate." + d.ext)
		if pg.status != http.StatusOK || pg.header.Get("Content-Type") != d.ctype ||
			pg.header.Get("Content-Disposition") != `attachment; filename="sertifikat-`+serial+`.`+d.ext+`"` {
			t.Errorf("%s: %d %v", d.ext, pg.status, pg.header)
			continue
		}
		body := []byte(pg.body)
		switch d.ext {
		case "pem":
			blk, rest := pem.Decode(body)
			if blk == nil || blk.Type != "CERTIFICATE" || len(rest) != 0 || string(blk.Bytes) != string(cert.Raw) {
				t.Error("the PEM download is not the certificate")
			}
		case "cer":
			if c, err := x509.ParseCertificate(body); err != nil || !c.Equal(cert) {
				t.Errorf("the DER download: %v", err)
			}
		case "p7b":
			f := filepath.Join(t.TempDir(), "chain.p7b")
			if err := os.WriteFile(f, body, 0o600); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command("openssl", "pkcs7", "-inform", "DER", "-print_certs", "-noout", "-in", f).CombinedOutput()
			if n := strings.Count(string(out), "subject="); err != nil || n != 3 ||
				!strings.Contains(string(out), "Budi Santoso") || !strings.Contains(string(out), "Test PSrE Root CA") {
				t.Errorf("openssl pkcs7 -print_certs: %v, %d certificates\n%s", err, n, out)
			}
		}
	}
}

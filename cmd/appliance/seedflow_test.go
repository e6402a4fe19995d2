package main

// TestSeedFlow walks the PSrE flow of the design (seed/digisign-certificate-flow.md, steps 1 to 22)
// as the people in it would: the applicant in one browser session (Debian's
// chromium, a fake camera), customer service and the RA at the console over
// mTLS with the demo officers' certificates, every email through a real
// SMTP relay and every SMS through the test's gateway, the whole service in
// this process. Then it checks the certificate with tools nobody here
// wrote (openssl verify, zlint, openssl ocsp, pkcs11-tool), revokes it from
// the profile page and sees the responder say revoked.

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/psre/appliance/notify"
)

func TestSeedFlow(t *testing.T) {
	started := time.Now()
	ctx := t.Context()
	b := sfNewBrowser(ctx, t) // first: without chromium there is nothing to walk

	dir := rvInitDemo(t)
	relay, pool := rvNewRelay(t)
	sms := sfNewSMSSink(t)
	svc := rvStart(t, dir, rvNotify{relay: relay.addr, pool: pool, sms: sms.srv.URL})
	portal := svc.portal
	a := rvBudi()
	const phone = "+6281234567890" // a.phone as the portal stores it (E.164)
	t.Logf("service ready after %v", time.Since(started).Round(time.Millisecond))

	files := t.TempDir()
	ktp := filepath.Join(files, "ktp.jpg")
	proof := filepath.Join(files, "bukti-bayar.pdf")
	if err := os.WriteFile(ktp, rvJPEG(t, 800, 500, a.seed), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(proof, rvPDF(1), 0o600); err != nil {
		t.Fatal(err)
	}

	// Seed 1-6: the registration wizard, from the landing page. Identitas
	// Pribadi, Informasi Akun, then Foto dan Tandatangan: the KTP photo as
	// a file, a selfie from the camera, a signature drawn with the mouse,
	// the captcha (its digits fixed by the test's layout) and the privacy
	// consent, "Simpan Data".
	b.open("landing", portal+"/", "/", "#register-link")
	b.submit("Daftar", "/register/identitas", "#f-nik", chromedp.Click(css("#register-link")))
	b.do("Identitas Pribadi",
		chromedp.SendKeys(css("#f-nik"), a.nik),
		chromedp.SendKeys(css("#f-name"), a.name),
		chromedp.SetValue(css("#f-birth_date"), a.birth))
	b.submit("Identitas Pribadi: Next", "/register/akun", "#f-username", chromedp.Click(css(`button[value="next"]`)))
	b.do("Informasi Akun",
		chromedp.SendKeys(css("#f-username"), a.username),
		chromedp.SendKeys(css("#f-password"), a.password),
		chromedp.SendKeys(css("#f-password_confirm"), a.password),
		chromedp.SendKeys(css("#f-email"), a.email),
		chromedp.SendKeys(css("#f-phone"), a.phone))
	b.submit("Informasi Akun: Next", "/register/foto", "#f-ktp_photo", chromedp.Click(css(`button[value="next"]`)))
	b.do("Foto KTP", chromedp.SetUploadFiles(css("#f-ktp_photo"), []string{ktp}))
	b.do("selfie from the webcam",
		chromedp.WaitEnabled(css("#selfie-capture")),
		chromedp.Click(css("#selfie-capture")),
		sfWaitSaved("selfie-status"))
	b.do("signature specimen", sfDrawSignature(), chromedp.Click(css("#signature-save")), sfWaitSaved("signature-status"))
	b.do("captcha and privacy consent",
		chromedp.SendKeys(css("#f-captcha"), "123456"),
		chromedp.Click(css("#f-consent")))
	if label := b.text("#simpan"); label != "Simpan Data" {
		t.Errorf("the wizard's last button says %q, want Simpan Data", label)
	}
	b.submit("Simpan Data", "/register/selesai", "#selesai", chromedp.Click(css("#simpan")))

	// Seed 7: login with the username and password just registered.
	b.submit("to the login page", "/login", "#f-login", chromedp.Click(css("#login-link")))
	b.do("login form", chromedp.SendKeys(css("#f-login"), a.username), chromedp.SendKeys(css("#f-password"), a.password))
	b.submit("login", "/account", "#account-state", chromedp.Click(css("#login-submit")))
	if s := b.state(); s != "registered" {
		t.Fatalf("after login: state %s, want registered", s)
	}

	// Seed 8: "Ajukan Verifikasi" (the product's form of the email to CS).
	if label := b.text("#request-verification"); label != "Ajukan Verifikasi" {
		t.Errorf("the verification button says %q", label)
	}
	b.submit("Ajukan Verifikasi", "/account", "#flash", chromedp.Click(css("#request-verification")))
	if s := b.state(); s != "verification_requested" {
		t.Fatalf("after Ajukan Verifikasi: state %s", s)
	}
	sfExpectMail(t, relay, a.email, notify.KindRequestReceived)

	// Seed 9: CS issues the payment instructions (the invoice), over mTLS.
	cs, ra := svc.officer(t, "cs"), svc.officer(t, "ra")
	id := rvQueueID(t, cs.must("CS queue", cs.get("/cs/"), http.StatusOK, "").body, "requested", a.name)
	cs.must("CS application page", cs.get("/cs/applications/"+id), http.StatusOK, "")
	cs.must("issue invoice", cs.postForm("/cs/applications/"+id+"/invoice", nil), http.StatusSeeOther, "/cs/?done=invoice_issued")
	instructions := sfExpectMail(t, relay, a.email, notify.KindPaymentInstructions)

	// Seed 10: the applicant sees the invoice in the browser, as the email
	// says it.
	b.open("account with the invoice", portal+"/account", "/account", "#invoice-amount")
	amount, va := b.text("#invoice-amount"), b.text("#invoice-virtual-account")
	if amount != "Rp 150.000" || !rvVARE.MatchString(va) {
		t.Errorf("invoice on the account page: amount %q, virtual account %q", amount, va)
	}
	for _, s := range []string{amount, va} {
		if !strings.Contains(instructions.Text, s) {
			t.Errorf("the payment instructions email lacks %q:\n%s", s, instructions.Text)
		}
	}
	b.submit("open the invoice", "/account/invoice", "#invoice-number", chromedp.Click(css("#invoice-link")))
	if got := b.text("#invoice-applicant"); got != a.name {
		t.Errorf("invoice names %q, want %q", got, a.name)
	}
	b.submit("back to the account", "/account", "#f-proof", chromedp.Click(css("#account-link")))
	if s := b.state(); s != "awaiting_payment" {
		t.Fatalf("with the invoice: state %s", s)
	}

	// Seed 11: the proof of payment, chosen as a file and sent.
	b.do("choose the proof of payment", chromedp.SetUploadFiles(css("#f-proof"), []string{proof}))
	b.submit("send the proof of payment", "/account", "#proof-received", chromedp.Click(css("#proof-submit")))
	if s := b.state(); s != "payment_submitted" {
		t.Fatalf("after the proof: state %s", s)
	}

	// Seed 12-13: CS opens the proof (the very PDF sent) and confirms the
	// payment, which hands the application to the RA.
	if got := rvQueueID(t, cs.must("CS queue", cs.get("/cs/"), http.StatusOK, "").body, "submitted", a.name); got != id {
		t.Fatalf("CS queue lists the proof under %s, want %s", got, id)
	}
	p := cs.must("CS opens the proof", cs.get("/cs/applications/"+id+"/proof"), http.StatusOK, "")
	if p.header.Get("Content-Type") != "application/pdf" || p.body != string(rvPDF(1)) {
		t.Errorf("the proof CS sees: %s, %d bytes; want the PDF the browser sent", p.header.Get("Content-Type"), len(p.body))
	}
	cs.must("confirm payment", cs.postForm("/cs/applications/"+id+"/confirm", nil), http.StatusSeeOther, "/cs/?done=payment_confirmed")
	sfExpectMail(t, relay, a.email, notify.KindPaymentConfirmed)

	// Seed 14: the RA checks the file (the NIK, decrypted, and what it
	// says) and approves.
	if got := rvQueueID(t, ra.must("RA queue", ra.get("/ra/"), http.StatusOK, "").body, "", a.name); got != id {
		t.Fatalf("RA queue: %s, want %s", got, id)
	}
	file := ra.must("RA application page", ra.get("/ra/applications/"+id), http.StatusOK, "")
	for field, want := range map[string]string{"nik": a.nik, "name": a.name, "birth": a.birth, "province": a.province} {
		if got := rvText(file.body, field); got != want {
			t.Errorf("RA page: %s = %q, want %q", field, got, want)
		}
	}
	ra.must("approve", ra.postForm("/ra/applications/"+id+"/approve", nil), http.StatusSeeOther, "/ra/?done=approved")

	// Seed 15: the email that says the verification is done, with the
	// Aktivasi link.
	approved := sfExpectMail(t, relay, a.email, notify.KindApproved)
	links := rvLinkRE.FindAllString(approved.Text, -1)
	if len(links) != 1 || !strings.HasPrefix(links[0], portal+"/aktivasi?token=") {
		t.Fatalf("approval email: activation links %q, want one to %s:\n%s", links, portal, approved.Text)
	}

	// Seed 16: the link, then "Aktivasi".
	b.open("the activation link", links[0], "/aktivasi", "#activation-valid")
	if label := b.text("#activation-start"); label != "Aktivasi" {
		t.Errorf("the activation button says %q", label)
	}
	b.submit("Aktivasi", "/aktivasi/email", "#code-form", chromedp.Click(css("#activation-start")))

	// Seed 17: the email OTP.
	otpMail := sfExpectMail(t, relay, a.email, notify.KindOTPEmail)
	m := sfMailCodeRE.FindStringSubmatch(otpMail.Text)
	if m == nil {
		t.Fatalf("the OTP email holds no code:\n%s", otpMail.Text)
	}
	sms.none(t, "before the email code")
	b.do("type the email code", chromedp.SendKeys(css("#f-code"), m[1]))
	b.submit("verify the email code", "/aktivasi/telepon", "#f-consent-issuance", chromedp.Click(css("#code-submit")))

	// Seed 18-19: the SMS code, both consents ticked, "Proses Kode OTP".
	code := sms.code(t, phone)
	if label := b.text("#code-submit"); label != "Proses Kode OTP" {
		t.Errorf("the phone step's button says %q", label)
	}
	b.do("consents and the SMS code",
		chromedp.Click(css("#f-consent-issuance")),
		chromedp.Click(css("#f-consent-ownership")),
		chromedp.SendKeys(css("#f-code"), code))

	// Seed 20-21: the certificate is issued; the profile shows it.
	b.submit("Proses Kode OTP", "/account/profile", "#cert-status", chromedp.Click(css("#code-submit")))
	if got := b.text("#flash"); !strings.Contains(got, "Sertifikat Elektronik Anda telah terbit") {
		t.Errorf("after Proses Kode OTP the page says %q", got)
	}
	issuedMail := sfExpectMail(t, relay, a.email, notify.KindCertificateIssued)
	if st := sfEval[string](b, `document.getElementById('cert-status').dataset.status`); st != "good" {
		t.Errorf("profile: certificate status %q, want good", st)
	}
	if got := b.text("#cert-subject"); !strings.Contains(got, "CN="+a.name) {
		t.Errorf("profile: certificate subject %q, want CN=%s", got, a.name)
	}
	serialShown := strings.ReplaceAll(b.text("#cert-serial"), ":", "")
	b.submit("Akun Saya", "/account", "#account-state", chromedp.Click(css("#nav-account")))
	if s := b.state(); s != "issued" {
		t.Errorf("after activation: state %s, want issued", s)
	}

	// Seed 22: Account Setting > Profile > Download Certificate.
	b.submit("Account Setting > Profile", "/account/profile", "#downloads", chromedp.Click(css("#nav-profile")))
	if got := b.text("#breadcrumb"); got != "Pengaturan Akun › Profil" {
		t.Errorf("profile breadcrumb %q", got)
	}
	if got := b.text("#certificate h3"); got != "Download Certificate" {
		t.Errorf("download heading %q", got)
	}
	hrefs := sfEval[[]string](b, `Array.from(document.querySelectorAll('#downloads a[download]')).map(a => a.href)`)
	want := []string{portal + "/account/certificate.pem", portal + "/account/certificate.cer", portal + "/account/certificate.p7b"}
	if strings.Join(hrefs, " ") != strings.Join(want, " ") {
		t.Fatalf("download links %q, want %q", hrefs, want)
	}
	web := b.httpClient(portal)
	h, pemBody := sfGet(t, web, hrefs[0])
	if ct, cd := h.Get("Content-Type"), h.Get("Content-Disposition"); ct != "application/x-pem-file" || !strings.HasPrefix(cd, "attachment;") {
		t.Errorf("certificate.pem: Content-Type %q, Content-Disposition %q", ct, cd)
	}
	block, rest := pem.Decode(pemBody)
	if block == nil || block.Type != "CERTIFICATE" || len(bytes.TrimSpace(rest)) != 0 {
		t.Fatalf("certificate.pem is not one PEM certificate:\n%s", pemBody)
	}
	der := block.Bytes
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	_, cer := sfGet(t, web, hrefs[1])
	if !bytes.Equal(cer, der) {
		t.Error("certificate.cer is not the DER of certificate.pem")
	}
	_, p7b := sfGet(t, web, hrefs[2])
	certPath := filepath.Join(files, "cert.pem")
	p7bPath := filepath.Join(files, "cert.p7b")
	if err := os.WriteFile(certPath, pemBody, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p7bPath, p7b, 0o600); err != nil {
		t.Fatal(err)
	}
	pki := filepath.Join(dir, "pki")
	t.Run("download", func(t *testing.T) {
		if strings.ToUpper(cert.SerialNumber.Text(16)) != serialShown {
			t.Errorf("the profile shows serial %s, the download has %X", serialShown, cert.SerialNumber)
		}
		if !strings.Contains(strings.ToUpper(issuedMail.Text), strings.ToUpper(cert.SerialNumber.Text(16))) {
			t.Errorf("the certificate_issued email does not name serial %X:\n%s", cert.SerialNumber, issuedMail.Text)
		}
		// The PKCS#7 holds the certificate, the issuing CA and the root.
		out, errOut, code := sfRun(t, nil, "openssl", "pkcs7", "-inform", "DER", "-in", p7bPath, "-print_certs", "-noout")
		if code != 0 || strings.Count(out, "subject=") != 3 || !strings.Contains(out, a.name) {
			t.Errorf("openssl pkcs7 -print_certs: exit %d, want 3 certificates, the first %s:\n%s%s", code, a.name, out, errOut)
		}
	})

	t.Run("openssl verify", func(t *testing.T) {
		out, errOut, code := sfRun(t, nil, "openssl", "verify", "-x509_strict", "-CAfile", filepath.Join(pki, "root.pem"),
			"-untrusted", filepath.Join(pki, "issuing.pem"), certPath)
		if code != 0 || strings.TrimSpace(out) != certPath+": OK" {
			t.Errorf("openssl verify: exit %d\n%s%s", code, out, errOut)
		}
	})

	t.Run("zlint", func(t *testing.T) { sfZlint(t, der) })

	t.Run("subject", func(t *testing.T) {
		if cert.Subject.CommonName != a.name || strings.Join(cert.Subject.Country, ",") != "ID" {
			t.Errorf("subject %s, want CN=%s, C=ID", cert.Subject, a.name)
		}
		if strings.Join(cert.EmailAddresses, ",") != a.email {
			t.Errorf("email SANs %q, want %s", cert.EmailAddresses, a.email)
		}
		if !strings.HasPrefix(cert.Subject.SerialNumber, "PSRE-") {
			t.Errorf("subject serialNumber %q, want the opaque subscriber identifier", cert.Subject.SerialNumber)
		}
		text, errOut, code := sfRun(t, nil, "openssl", "x509", "-in", certPath, "-noout", "-text")
		if code != 0 {
			t.Fatalf("openssl x509 -text: exit %d\n%s", code, errOut)
		}
		if bytes.Contains(der, []byte(a.nik)) || strings.Contains(text, a.nik) || regexp.MustCompile(`[0-9]{16}`).Match([]byte(cert.Subject.String())) {
			t.Errorf("the NIK %s (or a 16-digit run) is in the certificate:\n%s", a.nik, text)
		}
		if len(cert.OCSPServer) != 1 || cert.OCSPServer[0] != portal+"/ocsp" {
			t.Errorf("AIA OCSP %q, want %s/ocsp", cert.OCSPServer, portal)
		}
	})

	t.Run("ocsp good", func(t *testing.T) {
		if out := sfOCSP(t, dir, certPath, portal+"/ocsp"); !strings.Contains(out, certPath+": good") {
			t.Errorf("openssl ocsp, want good:\n%s", out)
		}
	})

	label := "subscriber-" + id
	t.Run("key in the users token", func(t *testing.T) {
		keys := sfUsersKeys(t, dir, "privkey")
		if len(keys) != 1 || keys[0].Label != label || keys[0].ID == "" {
			t.Fatalf("users token private keys %+v, want one labelled %s with an ID", keys, label)
		}
		if !strings.Contains(keys[0].Access, "sensitive, always sensitive, never extractable") {
			t.Errorf("%s: access %q, want sensitive, always sensitive, never extractable", label, keys[0].Access)
		}
		if pub := sfUsersPublicKey(t, dir, label); !bytes.Equal(pub, cert.RawSubjectPublicKeyInfo) {
			t.Errorf("the public key of %s on the token is not the certificate's", label)
		}
	})

	// Revocation from the profile: the SMS code, then password, code and
	// reason (key compromise).
	if label := b.text("#revoke-send-code"); label != "Kirim Kode OTP" {
		t.Errorf("the revocation code button says %q", label)
	}
	b.submit("send the revocation code", "/account/profile", "#flash", chromedp.Click(css("#revoke-send-code")))
	if got := b.text("#flash"); !strings.Contains(got, "Kode OTP pencabutan") {
		t.Errorf("after sending the revocation code the page says %q", got)
	}
	code = sms.code(t, phone)
	b.do("revocation form",
		chromedp.Click(css("#f-reason-1")),
		chromedp.SendKeys(css("#revoke-form #f-password"), a.password),
		chromedp.SendKeys(css("#revoke-form #f-code"), code))
	b.submit("Cabut Sertifikat", "/account/profile", `#cert-status[data-status="revoked"]`, chromedp.Click(css("#revoke-submit")))
	if got := b.text("#flash"); !strings.Contains(got, "telah dicabut") {
		t.Errorf("after the revocation the page says %q", got)
	}
	if got := b.text("#cert-status"); !strings.HasPrefix(got, "Dicabut pada ") {
		t.Errorf("certificate status %q, want Dicabut pada …", got)
	}
	sfExpectMail(t, relay, a.email, notify.KindCertificateRevoked)

	t.Run("ocsp revoked", func(t *testing.T) {
		out := sfOCSP(t, dir, certPath, portal+"/ocsp")
		if !strings.Contains(out, certPath+": revoked") || !strings.Contains(out, "Reason: keyCompromise") {
			t.Errorf("openssl ocsp, want revoked (keyCompromise):\n%s", out)
		}
	})
	t.Run("key gone from the users token", func(t *testing.T) {
		for _, typ := range []string{"privkey", "pubkey"} {
			if keys := sfUsersKeys(t, dir, typ); len(keys) != 0 {
				t.Errorf("users token %s objects after the revocation: %+v, want none", typ, keys)
			}
		}
	})
	b.submit("Akun Saya", "/account", "#account-state", chromedp.Click(css("#nav-account")))
	if s := b.state(); s != "revoked" {
		t.Errorf("after the revocation: state %s, want revoked", s)
	}
	sms.none(t, "at the end")
	// request_received, payment_instructions, payment_confirmed, approved,
	// otp_email, certificate_issued, certificate_revoked: each waited for
	// above, and nothing more.
	if n := len(relay.all()); n != 7 {
		t.Errorf("the relay received %d emails, want 7", n)
	}
	t.Logf("seed flow walked in %v", time.Since(started).Round(time.Millisecond))
}

package portal_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/psre/appliance/enrollment/portal"
)

// TestWizardKeepsValues: Back and Next keep what was entered, held on the
// server (no hidden fields carry it).
func TestWizardKeepsValues(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	a := budi()
	if pg := b.get("/register"); pg.path != "/register/identitas" || !strings.Contains(pg.body, `aria-current="step"`) {
		t.Fatalf("/register: %s", pg.path)
	}
	b.post("/register/identitas", a.step1())
	// Back from step 2 keeps what was typed there, even before Next.
	back := a.step2()
	back.Set("action", "back")
	pg := b.post("/register/akun", back)
	if pg.path != "/register/identitas" {
		t.Fatalf("Back from step 2 went to %s", pg.path)
	}
	for _, v := range []string{a.nik, a.name, a.birth} {
		if !strings.Contains(pg.body, `value="`+v+`"`) {
			t.Errorf("step 1 after Back lost %q", v)
		}
	}
	pg = b.post("/register/identitas", a.step1())
	for _, v := range []string{a.username, a.email, a.phone} {
		if !strings.Contains(pg.body, `value="`+v+`"`) {
			t.Errorf("step 2 after Next lost %q", v)
		}
	}
	if strings.Contains(pg.body, a.password) {
		t.Error("the password is written back into the page")
	}
	if !strings.Contains(pg.body, e.msg("id", "field.password.kept")) {
		t.Error("step 2 does not say the password is kept")
	}
	// Next with the password fields left empty keeps the password.
	keep := a.step2()
	keep.Del("password")
	keep.Del("password_confirm")
	pg = b.post("/register/akun", keep)
	if pg.path != "/register/foto" {
		t.Fatalf("Next with the kept password: %s", pg.path)
	}
	if strings.Contains(pg.body, `type="hidden" name="nik"`) || strings.Contains(pg.body, a.nik) {
		t.Error("step 3 carries the NIK in the page")
	}
	pg = b.postMultipart("/register/foto", url.Values{"action": {"back"}}, "", nil)
	if pg.path != "/register/akun" || !strings.Contains(pg.body, `value="`+a.email+`"`) {
		t.Fatalf("Back from step 3: %s", pg.path)
	}
	// Steps cannot be skipped.
	b2 := e.browser()
	if pg := b2.get("/register/foto"); pg.path != "/register/identitas" {
		t.Errorf("step 3 without steps 1-2 landed on %s", pg.path)
	}
}

// TestStepMessages: every check of steps 1 and 2 shows its own message,
// in the caller's language, above the field, and the values stay.
func TestStepMessages(t *testing.T) {
	e := newEnv(t)
	a := budi()
	step1 := []struct {
		field, key string
		change     func(url.Values)
	}{
		{"nik", "nik.length", func(v url.Values) { v.Set("nik", "317101120890") }},
		{"nik", "nik.not_digits", func(v url.Values) { v.Set("nik", "31710112089000ab") }},
		{"nik", "nik.province", func(v url.Values) { v.Set("nik", "9971011208900001") }},
		{"nik", "nik.region", func(v url.Values) { v.Set("nik", "3100011208900001") }},
		{"nik", "nik.date", func(v url.Values) { v.Set("nik", "3171013208900001") }},
		{"nik", "nik.birth_mismatch", func(v url.Values) { v.Set("birth_date", "1990-08-13") }},
		{"nik", "nik.serial", func(v url.Values) { v.Set("nik", "3171011208900000") }},
		{"nik", "nik.age", func(v url.Values) { v.Set("nik", "3171010101200001"); v.Set("birth_date", "2020-01-01") }},
		{"name", "name.invalid", func(v url.Values) { v.Set("name", "   ") }},
		{"birth_date", "birth_date.invalid", func(v url.Values) { v.Set("birth_date", "") }},
	}
	step2 := []struct {
		field, key string
		change     func(url.Values)
	}{
		{"username", "username.invalid", func(v url.Values) { v.Set("username", "a") }},
		{"password", "password.short", func(v url.Values) { v.Set("password", "pendek"); v.Set("password_confirm", "pendek") }},
		{"password", "password.personal", func(v url.Values) {
			v.Set("password", "budi.santoso-99")
			v.Set("password_confirm", "budi.santoso-99")
		}},
		{"password", "password.common", func(v url.Values) { v.Set("password", "1234567890"); v.Set("password_confirm", "1234567890") }},
		{"password_confirm", "password.mismatch", func(v url.Values) { v.Set("password_confirm", "something-else-entirely") }},
		{"email", "email.invalid", func(v url.Values) { v.Set("email", "not an email") }},
		{"phone", "phone.invalid", func(v url.Values) { v.Set("phone", "021-5551234") }},
	}
	for _, lang := range []string{"id", "en"} {
		b := e.browser()
		b.get("/register/identitas?lang=" + lang)
		for _, c := range step1 {
			form := a.step1()
			c.change(form)
			pg := b.post("/register/identitas", form)
			check(t, e, lang, pg, "/register/identitas", c.field, c.key, form)
		}
		b.post("/register/identitas", a.step1())
		for _, c := range step2 {
			form := a.step2()
			c.change(form)
			pg := b.post("/register/akun", form)
			form.Del("password")
			form.Del("password_confirm")
			check(t, e, lang, pg, "/register/akun", c.field, c.key, form)
		}
	}
	if got := e.msg("id", "nik.length"); got != "NIK harus terdiri dari tepat 16 angka." {
		t.Errorf("id nik.length = %q", got)
	}
	if got := e.msg("en", "nik.length"); got != "The NIK must have exactly 16 digits." {
		t.Errorf("en nik.length = %q", got)
	}
}

func check(t *testing.T, e *env, lang string, pg page, path, field, key string, form url.Values) {
	t.Helper()
	msg := e.msg(lang, key)
	switch {
	case pg.path != path:
		t.Errorf("%s %s: landed on %s", lang, key, pg.path)
	case !strings.Contains(pg.body, msg):
		t.Errorf("%s %s: message %q missing", lang, key, msg)
	case !before(pg.body, msg, `id="f-`+field+`"`):
		t.Errorf("%s %s: the message is not above the %s field", lang, key, field)
	case !strings.Contains(pg.body, `<html lang="`+lang+`">`):
		t.Errorf("%s %s: page not in %s", lang, key, lang)
	}
	for k, vs := range form {
		if k == "action" || strings.TrimSpace(vs[0]) == "" {
			continue
		}
		if !strings.Contains(pg.body, `value="`+vs[0]+`"`) {
			t.Errorf("%s %s: the entered %s was not kept", lang, key, k)
		}
	}
	for _, other := range []string{"nik.length", "name.invalid", "password.short", "email.invalid"} {
		if other != key && strings.Contains(pg.body, e.msg(lang, other)) {
			t.Errorf("%s %s: also shows %s", lang, key, other)
		}
	}
}

// TestUploadNotImage: a text file named .jpg shows the not-an-image
// message in the caller's language and nothing is kept or registered.
func TestUploadNotImage(t *testing.T) {
	e := newEnv(t)
	text := []byte("Ini bukan foto KTP, hanya teks biasa.\n")
	for _, lang := range []string{"id", "en"} {
		b := e.browser()
		b.get("/?lang=" + lang)
		a := budi()
		b.toFoto(a)
		pg := b.postMultipart("/register/foto", url.Values{"action": {"save"}, "consent": {policy}, "captcha": {b.captcha()}}, "ktp.jpg", text)
		if pg.path != "/register/foto" || !strings.Contains(pg.body, e.msg(lang, "upload.not_image")) {
			t.Fatalf("%s: KTP text file: %s\n%s", lang, pg.path, pg.body)
		}
		if !before(pg.body, e.msg(lang, "upload.not_image"), `id="f-ktp_photo"`) {
			t.Errorf("%s: the message is not above the KTP field", lang)
		}
		if strings.Contains(pg.body, `id="ktp-saved"`) {
			t.Errorf("%s: the page says a KTP photo is saved", lang)
		}
		if pg := b.get("/register/preview/ktp_photo"); pg.status != http.StatusNotFound {
			t.Errorf("%s: a KTP photo was kept: %d", lang, pg.status)
		}
		pg = b.postImage("/register/selfie", text)
		if pg.status != http.StatusUnprocessableEntity || !strings.Contains(pg.body, `"ok":false`) ||
			!strings.Contains(pg.body, mustMessage(t, e, lang, "upload.not_image")) {
			t.Errorf("%s: selfie text file: %d %s", lang, pg.status, pg.body)
		}
		if pg := b.get("/register/preview/selfie"); pg.status != http.StatusNotFound {
			t.Errorf("%s: a selfie was kept: %d", lang, pg.status)
		}
	}
	if _, err := e.svc.Authenticate(t.Context(), "budi.santoso", budi().password, "192.0.2.1"); err == nil {
		t.Error("an applicant was registered")
	}
}

// TestRegisterOverHTTP runs the wizard to the end, then shows the
// registered applicant's account; nothing personal reaches the logs.
func TestRegisterOverHTTP(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	a := budi()
	pg := b.register(a)
	if pg.path != "/register/selesai" || !strings.Contains(pg.body, e.msg("id", "selesai.title")) {
		t.Fatalf("Simpan Data: %s\n%s", pg.path, pg.body)
	}
	if portalAnswer := b.get("/register/foto"); portalAnswer.path != "/register/identitas" || strings.Contains(portalAnswer.body, a.nik) {
		t.Errorf("the wizard state survived the registration: %s", portalAnswer.path)
	}
	b.get("/login")
	pg = b.post("/login", url.Values{"login": {a.email}, "password": {a.password}})
	if pg.path != "/account" || !strings.Contains(pg.body, `data-state="registered"`) ||
		!strings.Contains(pg.body, e.msg("id", "state.registered")) || !strings.Contains(pg.body, a.name) ||
		!strings.Contains(pg.body, e.msg("id", "next.registered")) {
		t.Fatalf("account: %s\n%s", pg.path, pg.body)
	}
	logs := e.logs.String()
	for _, secret := range []string{a.nik, a.name, a.email, a.phone, "+6281234567890", a.password, a.birth} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log holds %q", secret)
		}
	}
}

// TestTakenGoesBack: Simpan Data with a NIK or username already registered
// sends the applicant back to the step of that field, naming nobody.
func TestTakenGoesBack(t *testing.T) {
	e := newEnv(t)
	if pg := e.browser().register(budi()); pg.path != "/register/selesai" {
		t.Fatalf("first registration: %s", pg.path)
	}
	for _, c := range []struct {
		field, path string
		change      func(*applicant)
	}{
		{"nik", "/register/identitas", func(a *applicant) { a.nik, a.birth = budi().nik, budi().birth }},
		{"username", "/register/akun", func(a *applicant) { a.username = budi().username }},
	} {
		a := siti()
		c.change(&a)
		b := e.browser()
		pg := b.register(a)
		if pg.path != c.path || !strings.Contains(pg.body, e.msg("id", "taken."+c.field)) {
			t.Fatalf("%s taken: %s\n%s", c.field, pg.path, pg.body)
		}
		if strings.Contains(pg.body, "budi@") || strings.Contains(pg.body, "Budi Santoso") {
			t.Errorf("%s taken: the page names the owner", c.field)
		}
	}
	if e.msg("id", "taken.nik") != "NIK ini sudah terdaftar." {
		t.Error("taken.nik text")
	}
}

// TestCaptcha: a wrong answer is refused and replaced; the picture is
// served only to the session it belongs to.
func TestCaptcha(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	a := budi()
	pg := b.toFoto(a)
	answer := b.captcha()
	for _, ext := range []string{".png", ".wav"} {
		m := regexpFind(pg.body, `/captcha/([A-Za-z0-9_-]+)\.png`)
		if got := b.get("/captcha/" + m + ext); got.status != http.StatusOK {
			t.Errorf("captcha%s: %d", ext, got.status)
		}
		if got := e.browser().get("/captcha/" + m + ext); got.status != http.StatusNotFound {
			t.Errorf("captcha%s from another session: %d", ext, got.status)
		}
	}
	// Each captcha is drawn and spoken a bounded number of times.
	m := regexpFind(pg.body, `/captcha/([A-Za-z0-9_-]+)\.png`)
	last := 0
	for range 20 {
		last = b.get("/captcha/" + m + ".wav").status
	}
	if last != http.StatusTooManyRequests {
		t.Errorf("the 22nd rendering of one captcha: %d, want 429", last)
	}
	wrong := []byte(answer)
	wrong[0] = '0' + (wrong[0]-'0'+1)%10
	b.mustSave("/register/selfie", jpegImage(t, 480, 480))
	b.mustSave("/register/specimen", pngImage(t, 300, 100))
	pg = b.postMultipart("/register/foto", url.Values{"captcha": {string(wrong)}, "consent": {policy}, "action": {"save"}}, "ktp.jpg", jpegImage(t, 640, 400))
	if !strings.Contains(pg.body, e.msg("id", "captcha.wrong")) {
		t.Fatalf("wrong captcha: %s", pg.path)
	}
	if b.captcha() == answer {
		t.Error("the captcha was not replaced after an answer") // 1 in 10^6 by chance
	}
	// The KTP photo from the refused submission is kept: no need to pick it again.
	if !strings.Contains(pg.body, `id="ktp-saved"`) {
		t.Error("the KTP photo was not kept")
	}
	// Missing consent: its own message.
	pg = b.postMultipart("/register/foto", url.Values{"captcha": {b.captcha()}, "action": {"save"}}, "", nil)
	if !strings.Contains(pg.body, e.msg("id", "consent.required")) {
		t.Error("no consent message")
	}
	// Reload gives new digits.
	before := b.captcha()
	b.post("/register/captcha", nil)
	if b.captcha() == before {
		t.Error("reload kept the digits")
	}
	pg = b.postMultipart("/register/foto", url.Values{"captcha": {b.captcha()}, "consent": {policy}, "action": {"save"}}, "", nil)
	if pg.path != "/register/selesai" {
		t.Fatalf("right captcha: %s", pg.path)
	}
}

// mustMessage is the catalog text of key as JSON writes it.
func mustMessage(t *testing.T, e *env, lang, key string) string {
	t.Helper()
	s, ok := portal.Message(e.p, lang, key)
	if !ok {
		t.Fatalf("no message %q", key)
	}
	raw, _ := json.Marshal(s)
	return strings.Trim(string(raw), `"`)
}

func regexpFind(s, re string) string {
	m := regexp.MustCompile(re).FindStringSubmatch(s)
	if m == nil {
		return ""
	}
	return m[1]
}

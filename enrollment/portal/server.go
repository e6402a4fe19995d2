package portal

import (
	"embed"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"regexp"
	"runtime"
	"time"

	"github.com/gorilla/csrf"
	"github.com/psre/appliance/enrollment"
	"github.com/psre/appliance/store"
)

// Config wires the portal.
type Config struct {
	Service              *enrollment.Service
	DB                   *store.DB // to read the application state for the account page
	CSRFKey              []byte    // 32 bytes
	Secure               bool      // cookies Secure and HSTS (false for the http://127.0.0.1 demo)
	Logger               *slog.Logger
	Now                  func() time.Time
	PrivacyPolicyVersion string // names privacy/<version>.<lang>.html, e.g. "privacy-2026-11"
	// CaptchaDigits, when set, chooses the captcha's digits (0-9 values).
	// Only end-to-end tests that cannot read the picture set it; the
	// product leaves it nil and draws random digits.
	CaptchaDigits func() []byte
}

// Portal is the applicant portal. Make it with New.
type Portal struct {
	cfg      Config
	log      *slog.Logger
	cats     map[string]catalog
	pages    map[string]map[string]*template.Template // language -> page
	privacy  map[string]template.HTML                 // language -> policy text
	consents map[string]consentTexts                  // language -> the consent texts in force; nil without activation
	assets   map[string]asset
	sessions *sessionStore
	cleaning chan struct{} // bounds concurrent image decoding
	docs     *docStore     // documents being signed (tandatangan_store.go)
	handler  http.Handler
}

//go:embed privacy/*.html
var privacyFS embed.FS

var policyVersion = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,63}$`)

// New checks cfg and builds the portal.
func New(cfg Config) (*Portal, error) {
	switch {
	case cfg.Service == nil || cfg.DB == nil:
		return nil, errors.New("portal: Service and DB are required")
	case len(cfg.CSRFKey) != 32:
		return nil, errors.New("portal: CSRFKey must be 32 bytes")
	case !policyVersion.MatchString(cfg.PrivacyPolicyVersion):
		return nil, fmt.Errorf("portal: bad privacy policy version %q", cfg.PrivacyPolicyVersion)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	p := &Portal{cfg: cfg, log: cfg.Logger, privacy: map[string]template.HTML{},
		sessions: newSessionStore(cfg.Now), cleaning: make(chan struct{}, max(1, runtime.GOMAXPROCS(0)))}
	p.docs = newDocStore(cfg.Now, p.sessions)
	var err error
	if p.cats, err = loadCatalogs(); err != nil {
		return nil, err
	}
	for _, l := range languages {
		text, err := privacyFS.ReadFile("privacy/" + cfg.PrivacyPolicyVersion + "." + l + ".html")
		if err != nil {
			return nil, fmt.Errorf("portal: no text of privacy policy %s in %s: %w", cfg.PrivacyPolicyVersion, l, err)
		}
		p.privacy[l] = template.HTML(text) // our own embedded file
	}
	if v, ok := cfg.Service.ConsentVersions(); ok {
		if p.consents, err = loadConsents(v); err != nil {
			return nil, err
		}
	}
	if p.assets, err = loadAssets(); err != nil {
		return nil, err
	}
	if err := p.parseTemplates(); err != nil {
		return nil, err
	}
	p.handler = p.routes()
	return p, nil
}

// Handler serves the whole portal under /, with the security headers,
// body limits, language switch and CSRF protection around every route.
func (p *Portal) Handler() http.Handler { return p.handler }

func (p *Portal) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", p.landing)
	mux.HandleFunc("GET /privacy", p.privacyPage)
	mux.HandleFunc("GET /static/{file}", p.static)
	mux.HandleFunc("GET /register", func(w http.ResponseWriter, r *http.Request) { seeOther(w, r, stepPaths[stepIdentitas]) })
	mux.HandleFunc("GET /register/identitas", p.identitasGet)
	mux.HandleFunc("POST /register/identitas", p.withWizard(p.identitasPost))
	mux.HandleFunc("GET /register/akun", p.withExistingWizard(p.akunGet))
	mux.HandleFunc("POST /register/akun", p.withWizard(p.akunPost))
	mux.HandleFunc("GET /register/foto", p.withExistingWizard(p.fotoGet))
	mux.HandleFunc("POST /register/foto", p.fotoPost)
	mux.HandleFunc("POST /register/selfie", p.imagePost("selfie"))
	mux.HandleFunc("POST /register/specimen", p.imagePost("specimen"))
	mux.HandleFunc("POST /register/captcha", p.withWizard(p.captchaReload))
	mux.HandleFunc("GET /register/preview/{kind}", p.preview)
	mux.HandleFunc("GET /register/selesai", p.selesai)
	mux.HandleFunc("GET /captcha/{file}", p.captchaMedia)
	mux.HandleFunc("GET /login", p.loginGet)
	mux.HandleFunc("POST /login", p.loginPost)
	mux.HandleFunc("POST /logout", p.logout)
	mux.HandleFunc("GET /account", p.account)
	mux.HandleFunc("POST /account/verification", p.requestVerification)
	mux.HandleFunc("GET /account/invoice", p.invoice)
	mux.HandleFunc("POST /account/payment-proof", p.paymentProof)
	mux.HandleFunc("GET /account/corrections", p.correctionsGet)
	mux.HandleFunc("POST /account/corrections", p.correctionsPost)
	mux.HandleFunc("GET /aktivasi", p.aktivasi)
	mux.HandleFunc("POST /aktivasi", p.aktivasiStart)
	mux.HandleFunc("GET /aktivasi/email", p.emailGet)
	mux.HandleFunc("POST /aktivasi/email", p.emailPost)
	mux.HandleFunc("POST /aktivasi/email/kirim-ulang", p.resend(enrollment.StateActivationEmailOTP))
	mux.HandleFunc("GET /aktivasi/telepon", p.teleponGet)
	mux.HandleFunc("POST /aktivasi/telepon", p.teleponPost)
	mux.HandleFunc("POST /aktivasi/telepon/kirim-ulang", p.resend(enrollment.StateActivationPhoneOTP))
	mux.HandleFunc("GET /account/profile", p.profile)
	mux.HandleFunc("GET /account/certificate.pem", p.download("pem"))
	mux.HandleFunc("GET /account/certificate.cer", p.download("cer"))
	mux.HandleFunc("GET /account/certificate.p7b", p.download("p7b"))
	mux.HandleFunc("POST /account/revoke/code", p.revocationCode)
	mux.HandleFunc("POST /account/revoke", p.revoke)
	mux.HandleFunc("GET /tandatangan", p.tandatangan)
	mux.HandleFunc("POST /tandatangan", p.upload)
	mux.HandleFunc("GET /tandatangan/preview.png", p.tandatanganPreview)
	mux.HandleFunc("POST /tandatangan/kode", p.sendCode)
	mux.HandleFunc("POST /tandatangan/tandatangani", p.sign)
	mux.HandleFunc("GET /tandatangan/signed.pdf", p.signedPDF)
	mux.HandleFunc("POST /tandatangan/hapus", p.discard)
	mux.HandleFunc("/", p.notFound)

	csrfCookie := "csrf"
	if p.cfg.Secure {
		csrfCookie = "__Host-csrf"
	}
	protect := csrf.Protect(p.cfg.CSRFKey,
		csrf.Secure(p.cfg.Secure), csrf.HttpOnly(true), csrf.SameSite(csrf.SameSiteLaxMode), csrf.Path("/"),
		csrf.CookieName(csrfCookie), csrf.FieldName("csrf_token"), csrf.RequestHeader("X-CSRF-Token"),
		csrf.ErrorHandler(http.HandlerFunc(p.forbidden)))
	h := protect(recordRoute(mux))
	h = p.plaintext(h)
	h = p.limitBody(h)
	h = p.withLang(h)
	h = p.securityHeaders(h)
	return p.logRequests(h)
}

func (p *Portal) landing(w http.ResponseWriter, r *http.Request) {
	p.render(w, r, http.StatusOK, "landing", "landing.title", nil)
}

func (p *Portal) privacyPage(w http.ResponseWriter, r *http.Request) {
	p.render(w, r, http.StatusOK, "privacy", "privacy.title", struct {
		Version string
		Text    template.HTML
	}{p.cfg.PrivacyPolicyVersion, p.privacy[lang(r)]})
}

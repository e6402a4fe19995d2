package console

import (
	"crypto"
	"crypto/x509"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"time"

	"github.com/gorilla/csrf"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/psre/appliance/audit"
	"github.com/psre/appliance/enrollment"
	"github.com/psre/appliance/store"
)

// Config wires the console.
type Config struct {
	Service     *enrollment.Service // with its workflow configured
	DB          *store.DB
	AdminCA     *x509.Certificate // the only CA whose client certificates are accepted
	AuditKey    crypto.PublicKey  // the audit key, to verify checkpoints
	AuditEvery  int               // the audit log's checkpoint interval; 0 means audit.DefaultEvery
	RAApprovals int               // the workflow's RA approvals (1, or 2 for four eyes), for display; 0 means 1
	CSRFKey     []byte            // 32 bytes
	Logger      *slog.Logger
	Now         func() time.Time
	Location    *time.Location        // times shown and typed in the audit filter; nil means UTC
	Registerer  prometheus.Registerer // nil: metrics are kept but not registered
}

// Console is the officers' console. Make it with New.
type Console struct {
	cfg     Config
	log     *slog.Logger
	cats    map[string]catalog
	pages   map[string]map[string]*template.Template // language -> page
	css     []byte
	metrics *metrics
	protect func(http.Handler) http.Handler
	handler http.Handler
}

// New checks cfg and builds the console.
func New(cfg Config) (*Console, error) {
	switch {
	case cfg.Service == nil || cfg.DB == nil:
		return nil, errors.New("console: Service and DB are required")
	case cfg.AdminCA == nil || !cfg.AdminCA.IsCA:
		return nil, errors.New("console: AdminCA must be the admin CA certificate")
	case cfg.AuditKey == nil:
		return nil, errors.New("console: AuditKey is required to verify the audit log")
	case len(cfg.CSRFKey) != 32:
		return nil, errors.New("console: CSRFKey must be 32 bytes")
	case cfg.RAApprovals < 0 || cfg.RAApprovals > 2:
		return nil, errors.New("console: RAApprovals must be 1 or 2")
	}
	if cfg.AuditEvery <= 0 {
		cfg.AuditEvery = audit.DefaultEvery
	}
	if cfg.RAApprovals == 0 {
		cfg.RAApprovals = 1
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	c := &Console{cfg: cfg, log: cfg.Logger}
	var err error
	if c.metrics, err = newMetrics(cfg.Registerer); err != nil {
		return nil, err
	}
	if c.cats, err = loadCatalogs(); err != nil {
		return nil, err
	}
	if c.css, err = staticFS.ReadFile("static/console.css"); err != nil {
		return nil, err
	}
	if err := c.parseTemplates(); err != nil {
		return nil, err
	}
	c.protect = csrf.Protect(cfg.CSRFKey,
		csrf.Secure(true), csrf.HttpOnly(true), csrf.SameSite(csrf.SameSiteStrictMode), csrf.Path("/"),
		csrf.CookieName("__Host-csrf"), csrf.FieldName("csrf_token"), csrf.MaxAge(12*3600),
		csrf.ErrorHandler(http.HandlerFunc(c.csrfFailed)))
	c.handler = c.routes()
	return c, nil
}

// Handler serves the console under /: security headers, body limits and
// the language switch around every route; officer authentication, the
// route's role and CSRF protection around each.
func (c *Console) Handler() http.Handler { return c.handler }

func (c *Console) routes() http.Handler {
	mux := http.NewServeMux()
	anyRole := ""
	c.handle(mux, "GET /{$}", anyRole, c.home)
	c.handle(mux, "GET /static/console.css", anyRole, c.static)
	c.handle(mux, "GET /cs/{$}", store.RoleCS, c.csQueue)
	c.handle(mux, "GET /cs/applications/{id}", store.RoleCS, c.csApplication)
	c.handle(mux, "GET /cs/applications/{id}/proof", store.RoleCS, c.csProof)
	c.handle(mux, "POST /cs/applications/{id}/invoice", store.RoleCS, c.csInvoice)
	c.handle(mux, "POST /cs/applications/{id}/confirm", store.RoleCS, c.csConfirm)
	c.handle(mux, "POST /cs/applications/{id}/reject", store.RoleCS, c.csReject)
	c.handle(mux, "GET /ra/{$}", store.RoleRA, c.raQueue)
	c.handle(mux, "GET /ra/applications/{id}", store.RoleRA, c.raApplication)
	c.handle(mux, "GET /ra/applications/{id}/image/{kind}", store.RoleRA, c.raImage)
	c.handle(mux, "POST /ra/applications/{id}/approve", store.RoleRA, c.raApprove)
	c.handle(mux, "POST /ra/applications/{id}/reject-correctable", store.RoleRA, c.raReject(true))
	c.handle(mux, "POST /ra/applications/{id}/reject-final", store.RoleRA, c.raReject(false))
	c.handle(mux, "GET /audit/{$}", store.RoleAuditor, c.auditPage)
	c.handle(mux, "POST /audit/verify", store.RoleAuditor, c.auditVerify)
	// Anything else under a role's prefix still needs that role.
	c.handle(mux, "/cs/", store.RoleCS, c.notFound)
	c.handle(mux, "/ra/", store.RoleRA, c.notFound)
	c.handle(mux, "/audit/", store.RoleAuditor, c.notFound)
	c.handle(mux, "/", anyRole, c.notFound)

	h := c.withLang(mux)
	h = limitBody(h)
	h = securityHeaders(h)
	return c.observe(h)
}

// handle registers h for pattern behind authentication, the role check
// (role "" admits every officer) and CSRF protection.
func (c *Console) handle(mux *http.ServeMux, pattern, role string, h http.HandlerFunc) {
	mux.Handle(pattern, c.route(pattern, c.authenticate(c.requireRole(role, c.protect(h)))))
}

// home sends an officer to the home page of their role.
func (c *Console) home(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, homeOf(officerOf(r).Role), http.StatusSeeOther)
}

func homeOf(role string) string {
	switch role {
	case store.RoleCS:
		return "/cs/"
	case store.RoleRA:
		return "/ra/"
	default:
		return "/audit/"
	}
}

func (c *Console) static(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	_, _ = w.Write(c.css)
}

package main

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"errors"

	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	bolt "go.etcd.io/bbolt"

	"github.com/psre/appliance/audit"
	"github.com/psre/appliance/ca"
	"github.com/psre/appliance/ca/lint"
	"github.com/psre/appliance/enrollment"
	"github.com/psre/appliance/hsm"
	"github.com/psre/appliance/notify"
	softhsmtestdata "github.com/psre/appliance/softhsm-testdata"
	"github.com/psre/appliance/store"
)

// caSettings are the CA's configurable parts. The demo uses these defaults;
// the policy OID is a placeholder under Indonesia's arc (2.16.360) that a
// real PSrE replaces with the OID its CP/CPS assigns.
type caSettings struct {
	BaseURL     string // where the portal listener publishes CRLs, OCSP and CA certificates
	PolicyOID   asn1.ObjectIdentifier
	CPSURI      string
	CRLLifetime time.Duration
	Invoice     enrollment.InvoiceConfig // what CS's invoices ask for
	RAApprovals int                      // 1, or 2 for four eyes
	AuditEvery  int                      // audit records between signed checkpoints
	// TSAPolicyOID is the policy of the timestamps the TSA issues.
	TSAPolicyOID asn1.ObjectIdentifier
}

func demoSettings(portalAddr string) caSettings {
	base := "http://" + portalAddr
	return caSettings{
		BaseURL:     base,
		PolicyOID:   asn1.ObjectIdentifier{2, 16, 360, 1, 99999, 1, 1},
		CPSURI:      base + "/cps",
		CRLLifetime: ca.DefaultCRLLifetime,
		Invoice: enrollment.InvoiceConfig{Amount: 150_000, BankName: "Bank Contoh (demo)", AccountNumber: "1230004567890",
			AccountName: "PT PSrE Demo", VirtualAccountPrefix: "88081", DueIn: 72 * time.Hour},
		RAApprovals: 1,
		AuditEvery:  audit.DefaultEvery,
		// Placeholder under the same private arc as the certificate policy.
		TSAPolicyOID: asn1.ObjectIdentifier{2, 16, 360, 1, 99999, 2, 1},
	}
}

// layout says where an appliance's parts are: the demo derives it from its
// state directory, `serve` reads it from its configuration file.
type layout struct {
	StateDir  string        // appliance.db and admin.sock
	PKIDir    string        // CA certificates (root, issuing, admin, ocsp, ocsp-admin .pem); CRLs are published here
	Module    string        // PKCS#11 library
	Token     string        // label of the token with the online CA keys
	PINSource hsm.PINSource // its PIN
	KEK       string        // label of the AES key that wraps personal data at rest
	AuditKey  string        // label of the key that signs audit checkpoints
	// The token of subscribers' keys and its PIN.
	UsersToken string
	UsersPIN   hsm.PINSource
	// The console's TLS key (label on Token) and its certificate from the
	// admin CA; no ConsoleCert means no console listener.
	ConsoleKey, ConsoleCert string
	Settings                caSettings
	// Notifications: the SMTP relay and SMS gateway of a served appliance,
	// or (demo) the development mailbox that only records them.
	SMTP       *notify.SMTPConfig
	SMS        *notify.SMSConfig
	DevMailbox bool
	// captchaDigits is set only by in-process end-to-end tests, which
	// cannot read the captcha picture (see portal.Config.CaptchaDigits).
	captchaDigits func() []byte
	// Serving marks the running service: its settings are recorded in the
	// store. Otherwise (the CLI on a stopped service) the recorded settings,
	// if any, replace Settings, so certificates carry the served URLs.
	Serving bool
}

// demoLayout is the layout of a directory made by `appliance demo`.
func demoLayout(dir string, settings caSettings) (layout, error) {
	module, err := softhsmtestdata.ModulePath()
	if err != nil {
		return layout{}, err
	}
	// The state directory's tokens, whatever the environment said.
	if err := os.Setenv("SOFTHSM2_CONF", filepath.Join(dir, "softhsm2.conf")); err != nil {
		return layout{}, err
	}
	return layout{StateDir: dir, PKIDir: filepath.Join(dir, "pki"), Module: module, Token: "ca", KEK: "kek", AuditKey: "audit",
		ConsoleKey: consoleKeyLabel, ConsoleCert: filepath.Join(dir, "pki", "console.pem"),
		UsersToken: "users", UsersPIN: hsm.PINSource("file:" + filepath.Join(dir, "pins", "users")),
		PINSource: hsm.PINSource("file:" + filepath.Join(dir, "pins", "ca")), Settings: settings}, nil
}

// state is an opened appliance: the HSM token of the online CA keys, the
// store and the Authority over them.
type state struct {
	dir       string
	mod       *hsm.Module
	tok       *hsm.Token
	users     *hsm.Token          // subscribers' keys
	subKeys   *hsm.SubscriberKeys // their index: no token search per key
	db        *store.DB
	authority *ca.Authority
	enroll    *enrollment.Service
	audit     *audit.Log
	auditKey  crypto.PublicKey
	effects   *workflowEffects
	settings  caSettings
	certs     map[string]*x509.Certificate
	log       *slog.Logger
}

// openState opens the state directory laid out by `appliance demo`. The
// caller must close it. It refuses a directory that is not laid out.
func openState(ctx context.Context, dir string, settings caSettings, metrics *hsm.Metrics, log *slog.Logger, hooks ca.Hooks) (*state, error) {
	if _, err := os.Stat(filepath.Join(dir, "appliance.db")); err != nil {
		return nil, fmt.Errorf("%s is not an appliance state directory (no appliance.db): run `appliance demo --state %s --init-only` first", dir, dir)
	}
	l, err := demoLayout(dir, settings)
	if err != nil {
		return nil, err
	}
	return openLayout(ctx, l, metrics, nil, log, hooks)
}

// openLayout opens the appliance described by l.
func openLayout(ctx context.Context, l layout, metrics *hsm.Metrics, reg prometheus.Registerer, log *slog.Logger, hooks ca.Hooks) (st *state, err error) {
	settings := l.Settings
	st = &state{dir: l.StateDir, certs: map[string]*x509.Certificate{}, log: log}
	defer func() {
		if err != nil {
			st.close()
		}
	}()
	for _, name := range []string{"root", "issuing", "admin", "ocsp", "ocsp-admin"} {
		c, err := readCertFile(filepath.Join(l.PKIDir, name+".pem"))
		if err != nil {
			return nil, err
		}
		st.certs[name] = c
	}
	if st.mod, err = hsm.OpenModule(l.Module, hsm.ModuleOptions{Logger: log, Metrics: metrics}); err != nil {
		return nil, err
	}
	pin, err := hsm.ReadPIN(l.PINSource, "token "+l.Token, nil)
	if err != nil {
		return nil, err
	}
	if st.tok, err = st.mod.OpenToken(ctx, hsm.URI{Token: l.Token}, pin, hsm.TokenOptions{}); err != nil {
		return nil, err
	}
	if st.db, err = store.Open(filepath.Join(l.StateDir, "appliance.db"), 2*time.Second); err != nil {
		return nil, err
	}
	if l.Serving {
		if err := st.db.PutSettings(settings); err != nil {
			return nil, err
		}
	} else if _, err := st.db.Settings(&settings); err != nil {
		return nil, fmt.Errorf("recorded settings: %w", err)
	}
	linter, err := lint.New()
	if err != nil {
		return nil, err
	}
	year := 365 * 24 * time.Hour
	profiles := map[string]map[ca.Profile]ca.ProfileConfig{
		"issuing": {ca.ProfileIndividual: {Validity: year, PolicyOID: settings.PolicyOID, CPSURI: settings.CPSURI}},
		"admin":   {ca.ProfileOfficer: {Validity: year}, ca.ProfileTLS: {Validity: 90 * 24 * time.Hour}},
	}
	var issuers []*ca.Issuer
	var crls []*ca.CRLSigner
	for _, name := range []string{"issuing", "admin"} {
		signer, err := st.tok.Signer(ctx, hsm.URI{Token: l.Token, Object: name + "-ca"})
		if err != nil {
			return nil, err
		}
		is, err := ca.NewIssuer(ca.IssuerConfig{Name: name, Certificate: st.certs[name], Signer: signer, Random: st.tok.Random(),
			DB: st.db, Linter: linter, BaseURL: settings.BaseURL, Profiles: profiles[name], Logger: log})
		if err != nil {
			return nil, err
		}
		issuers = append(issuers, is)
		crl, err := ca.NewCRLSigner(ca.CRLConfig{Name: name, Certificate: st.certs[name], Signer: signer, DB: st.db,
			Linter: linter, Lifetime: settings.CRLLifetime, Logger: log})
		if err != nil {
			return nil, err
		}
		crls = append(crls, crl)
	}
	st.authority, err = ca.NewAuthority(ctx, ca.AuthorityConfig{DB: st.db, Issuers: issuers, CRLSigners: crls,
		Certificates: map[string]*x509.Certificate{"root": st.certs["root"]}, PKIDir: l.PKIDir, Hooks: hooks, Logger: log})
	if err != nil {
		return nil, err
	}
	if _, err := st.authority.RefreshCRLs(ctx); err != nil {
		return nil, fmt.Errorf("initial CRLs: %w", err)
	}
	kek, err := st.tok.KEK(ctx, hsm.URI{Token: l.Token, Object: l.KEK, Type: "secret-key"})
	if err != nil {
		return nil, fmt.Errorf("the key-encryption key of personal data: %w", err)
	}
	if st.enroll, err = enrollment.NewService(st.db, kek, log); err != nil {
		return nil, err
	}
	if err := st.openWorkflow(ctx, l, settings, reg); err != nil {
		return nil, err
	}
	if err := st.openActivation(ctx, l); err != nil {
		return nil, err
	}
	st.settings = settings
	return st, nil
}

// openWorkflow opens the audit log and the outbox and enables the
// application flow after registration.
func (st *state) openWorkflow(ctx context.Context, l layout, settings caSettings, reg prometheus.Registerer) error {
	signer, err := st.tok.Signer(ctx, hsm.URI{Token: l.Token, Object: l.AuditKey})
	if err != nil {
		return fmt.Errorf("the audit key: %w", err)
	}
	log, err := audit.New(audit.Config{Signer: signer, Every: settings.AuditEvery, Registerer: reg})
	if err != nil {
		return err
	}
	err = st.db.Update(func(tx *bolt.Tx) error {
		if err := log.Init(tx); err != nil {
			return err
		}
		return notify.Init(tx)
	})
	if err != nil {
		return fmt.Errorf("audit log and outbox: %w", err)
	}
	templates, err := notify.NewTemplates(productName)
	if err != nil {
		return err
	}
	st.audit, st.auditKey = log, signer.Public()
	st.effects = &workflowEffects{audit: log, templates: templates}
	return st.enroll.WithWorkflow(enrollment.WorkflowConfig{Effects: st.effects, PortalURL: settings.BaseURL,
		Invoice: settings.Invoice, RAApprovals: settings.RAApprovals})
}

// openActivation opens the users token and enables activation: the
// subscriber's key there, the certificate from the issuing CA.
func (st *state) openActivation(ctx context.Context, l layout) error {
	if l.UsersToken == "" {
		return errors.New("the layout names no token for subscribers' keys")
	}
	pin, err := hsm.ReadPIN(l.UsersPIN, "token "+l.UsersToken, nil)
	if err != nil {
		return err
	}
	if st.users, err = st.mod.OpenToken(ctx, hsm.URI{Token: l.UsersToken}, pin, hsm.TokenOptions{}); err != nil {
		return fmt.Errorf("the token of subscribers' keys: %w", err)
	}
	// The index keeps key generation and look-up flat as keys accumulate
	// (SoftHSM searches by scanning every object of the token).
	if st.subKeys, err = st.users.SubscriberKeys(ctx, hsm.SubscriberKeysOptions{}); err != nil {
		return fmt.Errorf("index of subscribers' keys: %w", err)
	}
	return st.enroll.WithActivation(enrollment.ActivationConfig{Keys: st.subKeys,
		Authority: subscriberAuthority{authority: st.authority, db: st.db, chain: chainOf(st.certs["issuing"], st.certs["root"])},
		Consents:  currentConsents})
}

// productName is how emails name the appliance's service.
const productName = "PSrE Appliance"

func (st *state) close() {
	if st.audit != nil && st.db != nil {
		if _, err := st.audit.Checkpoint(st.db.DB); err != nil {
			st.log.Error("audit checkpoint at shutdown", "error", err)
		}
	}
	if st.db != nil {
		st.db.Close()
	}
	if st.subKeys != nil {
		st.subKeys.Close()
	}
	if st.users != nil {
		st.users.Close()
	}
	if st.tok != nil {
		st.tok.Close()
	}
	if st.mod != nil {
		st.mod.Close()
	}
}

func readCertFile(path string) (*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read CA certificate: %w", err)
	}
	der := data
	if b := pemBlock(data, "CERTIFICATE"); b != nil {
		der = b
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"gopkg.in/yaml.v3"

	"github.com/psre/appliance/audit"
	"github.com/psre/appliance/ca"
	"github.com/psre/appliance/enrollment"
	"github.com/psre/appliance/hsm"
	"github.com/psre/appliance/notify"
)

// serveConfig is the production configuration (`serve --config FILE`),
// strict YAML: unknown keys and a second document are refused.
type serveConfig struct {
	StateDir string `yaml:"state_dir"` // appliance.db, admin.sock; mode 0700
	PKIDir   string `yaml:"pki_dir"`   // root, issuing, admin, ocsp, ocsp-admin .pem
	HSM      struct {
		Module   string `yaml:"module"`
		Token    string `yaml:"token"`
		PIN      string `yaml:"pin"`         // file:/path or env:NAME
		KEK      string `yaml:"kek"`         // label of the AES key wrapping personal data (default kek)
		Audit    string `yaml:"audit_key"`   // label of the key signing audit checkpoints (default audit)
		Users    string `yaml:"users_token"` // token of subscribers' keys (default users)
		UsersPIN string `yaml:"users_pin"`   // its PIN: file:/path or env:NAME
	} `yaml:"hsm"`
	Listen struct {
		Portal  string `yaml:"portal"`
		Console string `yaml:"console"` // officers' console (mTLS); empty: no console
		Metrics string `yaml:"metrics"`
	} `yaml:"listen"`
	Console struct {
		Cert string `yaml:"cert"` // the console's TLS certificate from the admin CA (PEM)
		Key  string `yaml:"key"`  // label of its key on the token (default console-tls)
	} `yaml:"console"`
	BaseURL     string `yaml:"base_url"`       // published in certificates: CRL DP, OCSP, caIssuers
	PolicyOID   string `yaml:"policy_oid"`     // the PSrE policy of individual certificates
	CPSURI      string `yaml:"cps_uri"`        // its CPS
	CRLLifetime string `yaml:"crl_lifetime"`   // e.g. 168h; default 168h, at most 240h
	TSAPolicy   string `yaml:"tsa_policy_oid"` // policy of the timestamps (the TSA serves /tsa when pki_dir has tsa.pem)
	Workflow    struct {
		RAApprovals int `yaml:"ra_approvals"` // 1, or 2 for four eyes
		AuditEvery  int `yaml:"audit_every"`  // audit records between signed checkpoints (default 100)
		Invoice     struct {
			Amount               int64  `yaml:"amount"` // rupiah
			BankName             string `yaml:"bank_name"`
			AccountNumber        string `yaml:"account_number"`
			AccountName          string `yaml:"account_name"`
			VirtualAccountPrefix string `yaml:"virtual_account_prefix"`
			DueIn                string `yaml:"due_in"` // e.g. 72h
		} `yaml:"invoice"`
	} `yaml:"workflow"`
	Notify struct {
		SMTP struct {
			Addr         string `yaml:"addr"` // host:port of the submission server (STARTTLS required)
			From         string `yaml:"from"`
			Username     string `yaml:"username"`
			PasswordFile string `yaml:"password_file"`
			CAFile       string `yaml:"ca_file"`      // CA certificates trusted for the server's TLS (default: the system's)
			ImplicitTLS  bool   `yaml:"implicit_tls"` // port 465
		} `yaml:"smtp"`
		SMS struct {
			URL             string `yaml:"url"`
			ContentType     string `yaml:"content_type"`
			BodyTemplate    string `yaml:"body_template"` // text/template over {To, Text}; json quotes a value
			HeaderName      string `yaml:"header_name"`
			HeaderValueFile string `yaml:"header_value_file"`
		} `yaml:"sms"`
	} `yaml:"notify"`
}

// loadServeConfig reads and checks a serve configuration, reporting every
// problem at once.
func loadServeConfig(path string) (layout, listenAddrs, error) {
	data, err := readSmall(path, 1<<20)
	if err != nil {
		return layout{}, listenAddrs{}, fmt.Errorf("read configuration: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var c serveConfig
	if err := dec.Decode(&c); err != nil {
		return layout{}, listenAddrs{}, fmt.Errorf("configuration %s: %w", path, err)
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return layout{}, listenAddrs{}, fmt.Errorf("configuration %s: more than one YAML document", path)
	}
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	for name, p := range map[string]string{"state_dir": c.StateDir, "pki_dir": c.PKIDir, "hsm.module": c.HSM.Module} {
		if !filepath.IsAbs(p) {
			bad("%s: %q is not an absolute path", name, p)
		} else if _, err := os.Stat(p); err != nil {
			bad("%s: %v", name, err)
		}
	}
	if c.HSM.Token == "" {
		bad("hsm.token: missing: the label of the token with the online CA keys")
	}
	if !strings.HasPrefix(c.HSM.PIN, "file:") && !strings.HasPrefix(c.HSM.PIN, "env:") {
		bad("hsm.pin: use file:/path or env:NAME (a service has no terminal to prompt on; never the PIN itself)")
	}
	if c.HSM.Users == "" {
		c.HSM.Users = "users"
	}
	if !strings.HasPrefix(c.HSM.UsersPIN, "file:") && !strings.HasPrefix(c.HSM.UsersPIN, "env:") {
		bad("hsm.users_pin: use file:/path or env:NAME (never the PIN itself)")
	}
	for name, a := range map[string]string{"listen.portal": c.Listen.Portal, "listen.metrics": c.Listen.Metrics} {
		if _, _, err := net.SplitHostPort(a); err != nil {
			bad("%s: %q is not host:port", name, a)
		}
	}
	for name, u := range map[string]string{"base_url": c.BaseURL, "cps_uri": c.CPSURI} {
		if p, err := url.Parse(u); err != nil || p.Host == "" || (p.Scheme != "http" && p.Scheme != "https") {
			bad("%s: %q is not an absolute http(s) URL", name, u)
		}
	}
	oid, err := ca.ParseOID(c.PolicyOID)
	if err != nil {
		bad("policy_oid: %v", err)
	}
	lifetime := ca.DefaultCRLLifetime
	if c.CRLLifetime != "" {
		if lifetime, err = time.ParseDuration(c.CRLLifetime); err != nil || lifetime <= 0 || lifetime > 240*time.Hour {
			bad("crl_lifetime: %q is not a duration in (0, 240h]", c.CRLLifetime)
		}
	}
	if c.Listen.Console != "" {
		if _, _, err := net.SplitHostPort(c.Listen.Console); err != nil {
			bad("listen.console: %q is not host:port", c.Listen.Console)
		}
		if !filepath.IsAbs(c.Console.Cert) {
			bad("console.cert: %q is not an absolute path (the console needs its TLS certificate)", c.Console.Cert)
		}
	}
	if c.Console.Key == "" {
		c.Console.Key = consoleKeyLabel
	}
	var tsaPolicy asn1.ObjectIdentifier
	if c.TSAPolicy != "" {
		if tsaPolicy, err = ca.ParseOID(c.TSAPolicy); err != nil {
			bad("tsa_policy_oid: %v", err)
		}
	} else if _, err := os.Stat(filepath.Join(c.PKIDir, "tsa.pem")); err == nil {
		bad("tsa_policy_oid: missing: pki_dir holds tsa.pem, so the TSA serves /tsa and needs its policy")
	}
	inv := c.Workflow.Invoice
	invoice := enrollment.InvoiceConfig{Amount: inv.Amount, BankName: inv.BankName, AccountNumber: inv.AccountNumber,
		AccountName: inv.AccountName, VirtualAccountPrefix: inv.VirtualAccountPrefix}
	if inv.DueIn != "" {
		if invoice.DueIn, err = time.ParseDuration(inv.DueIn); err != nil || invoice.DueIn <= 0 {
			bad("workflow.invoice.due_in: %q is not a positive duration", inv.DueIn)
		}
	}
	if err := enrollment.CheckInvoiceConfig(&invoice); err != nil {
		bad("workflow.invoice: %v", err)
	}
	if a := c.Workflow.RAApprovals; a != 0 && a != 1 && a != 2 {
		bad("workflow.ra_approvals: %d: use 1, or 2 for four eyes", a)
	}
	if c.Workflow.AuditEvery < 0 || c.Workflow.AuditEvery > 100000 {
		bad("workflow.audit_every: %d is outside [1, 100000]", c.Workflow.AuditEvery)
	}
	smtpCfg := notify.SMTPConfig{Addr: c.Notify.SMTP.Addr, From: c.Notify.SMTP.From, Username: c.Notify.SMTP.Username,
		PasswordFile: c.Notify.SMTP.PasswordFile, ImplicitTLS: c.Notify.SMTP.ImplicitTLS}
	if c.Notify.SMTP.CAFile != "" {
		pool := x509.NewCertPool()
		if pemData, err := readSmall(c.Notify.SMTP.CAFile, 1<<20); err != nil || !pool.AppendCertsFromPEM(pemData) {
			bad("notify.smtp.ca_file: %q holds no PEM certificate", c.Notify.SMTP.CAFile)
		}
		smtpCfg.RootCAs = pool
	}
	if _, err := notify.NewSMTPSender(smtpCfg); err != nil {
		bad("notify.smtp: %v", err)
	}
	smsCfg := notify.SMSConfig{URL: c.Notify.SMS.URL, ContentType: c.Notify.SMS.ContentType, BodyTemplate: c.Notify.SMS.BodyTemplate,
		HeaderName: c.Notify.SMS.HeaderName, HeaderValueFile: c.Notify.SMS.HeaderValueFile}
	if _, err := notify.NewSMSGateway(smsCfg); err != nil {
		bad("notify.sms: %v", err)
	}
	if len(problems) > 0 {
		return layout{}, listenAddrs{}, fmt.Errorf("configuration %s:\n  - %s", path, strings.Join(problems, "\n  - "))
	}
	settings := caSettings{BaseURL: strings.TrimRight(c.BaseURL, "/"), PolicyOID: oid, CPSURI: c.CPSURI, CRLLifetime: lifetime,
		Invoice: invoice, RAApprovals: max(1, c.Workflow.RAApprovals), AuditEvery: c.Workflow.AuditEvery, TSAPolicyOID: tsaPolicy}
	if settings.AuditEvery == 0 {
		settings.AuditEvery = audit.DefaultEvery
	}
	auditLabel := c.HSM.Audit
	if auditLabel == "" {
		auditLabel = "audit"
	}
	kekLabel := c.HSM.KEK
	if kekLabel == "" {
		kekLabel = "kek"
	}
	l := layout{StateDir: c.StateDir, PKIDir: c.PKIDir, Module: c.HSM.Module, Token: c.HSM.Token, KEK: kekLabel, AuditKey: auditLabel,
		PINSource: hsm.PINSource(c.HSM.PIN), Settings: settings, SMTP: &smtpCfg, SMS: &smsCfg,
		ConsoleKey: c.Console.Key, ConsoleCert: c.Console.Cert,
		UsersToken: c.HSM.Users, UsersPIN: hsm.PINSource(c.HSM.UsersPIN)}
	return l, listenAddrs{portal: c.Listen.Portal, console: c.Listen.Console, metrics: c.Listen.Metrics}, nil
}

// serveCommand runs the appliance from a configuration file: the portal
// (repository, OCSP), metrics and the admin socket, on the keys of an HSM
// token set up by the key ceremonies.
func serveCommand(ctx context.Context, args []string, stdout io.Writer, log *slog.Logger) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	config := fs.String("config", "", "configuration file (YAML)")
	if err := parseFlags(fs, args, "config"); err != nil {
		return err
	}
	l, addrs, err := loadServeConfig(*config)
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	metrics, err := hsm.NewMetrics(reg)
	if err != nil {
		return err
	}
	l.Serving = true
	return runService(ctx, stdout, log, reg, metrics, addrs, func(string) (layout, error) { return l, nil })
}

package main

import (
	"bytes"
	"context"
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

	"github.com/psre/appliance/ca"
	"github.com/psre/appliance/hsm"
)

// serveConfig is the production configuration (`serve --config FILE`),
// strict YAML: unknown keys and a second document are refused.
type serveConfig struct {
	StateDir string `yaml:"state_dir"` // appliance.db, admin.sock; mode 0700
	PKIDir   string `yaml:"pki_dir"`   // root, issuing, admin, ocsp, ocsp-admin .pem
	HSM      struct {
		Module string `yaml:"module"`
		Token  string `yaml:"token"`
		PIN    string `yaml:"pin"` // file:/path or env:NAME
		KEK    string `yaml:"kek"` // label of the AES key wrapping personal data (default kek)
	} `yaml:"hsm"`
	Listen struct {
		Portal  string `yaml:"portal"`
		Metrics string `yaml:"metrics"`
	} `yaml:"listen"`
	BaseURL     string `yaml:"base_url"`     // published in certificates: CRL DP, OCSP, caIssuers
	PolicyOID   string `yaml:"policy_oid"`   // the PSrE policy of individual certificates
	CPSURI      string `yaml:"cps_uri"`      // its CPS
	CRLLifetime string `yaml:"crl_lifetime"` // e.g. 168h; default 168h, at most 240h
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
	if len(problems) > 0 {
		return layout{}, listenAddrs{}, fmt.Errorf("configuration %s:\n  - %s", path, strings.Join(problems, "\n  - "))
	}
	settings := caSettings{BaseURL: strings.TrimRight(c.BaseURL, "/"), PolicyOID: oid, CPSURI: c.CPSURI, CRLLifetime: lifetime}
	kekLabel := c.HSM.KEK
	if kekLabel == "" {
		kekLabel = "kek"
	}
	l := layout{StateDir: c.StateDir, PKIDir: c.PKIDir, Module: c.HSM.Module, Token: c.HSM.Token, KEK: kekLabel,
		PINSource: hsm.PINSource(c.HSM.PIN), Settings: settings}
	return l, listenAddrs{portal: c.Listen.Portal, metrics: c.Listen.Metrics}, nil
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

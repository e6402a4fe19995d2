package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"text/template"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/psre/appliance/ca"
	"github.com/psre/appliance/ca/ceremony"
	"github.com/psre/appliance/hsm"
	softhsmtestdata "github.com/psre/appliance/softhsm-testdata"
	"github.com/psre/appliance/store"
)

// demoTokens are the tokens of DESIGN.md's key table.
var demoTokens = []string{"root", "ca", "users"}

func demoCommand(ctx context.Context, args []string, stdout io.Writer, logger *slog.Logger) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	state := fs.String("state", "", "state directory (created if missing)")
	initOnly := fs.Bool("init-only", false, "lay out the state directory and exit without serving")
	portalAddr := fs.String("portal-addr", defaultPortalAddr, "listen address of the portal and repository (CRLs, CA certificates, OCSP)")
	consoleAddr := fs.String("console-addr", defaultConsoleAddr, "listen address of the officers' console (TLS, officer client certificates)")
	metricsAddr := fs.String("metrics-addr", defaultMetricsAddr, "listen address for /metrics and /healthz")
	crlLifetime := fs.Duration("crl-lifetime", ca.DefaultCRLLifetime, "distance from a CRL's thisUpdate to its nextUpdate (at most 10 days: CA/B Forum BR 4.9.7); CRLs are re-signed at half of it")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if *state == "" || fs.NArg() != 0 {
		return fmt.Errorf("%w: demo needs --state DIR and nothing else", errUsage)
	}
	if *crlLifetime <= 0 || *crlLifetime > 10*24*time.Hour {
		return fmt.Errorf("%w: --crl-lifetime %v is outside (0, 240h]", errUsage, *crlLifetime)
	}
	dir, err := filepath.Abs(*state)
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	metrics, err := hsm.NewMetrics(reg)
	if err != nil {
		return err
	}
	d := &demo{dir: dir, out: stdout, log: logger, metrics: metrics}
	if err := d.init(ctx); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	fmt.Fprintf(stdout, "demo state ready in %s\n", dir)
	if *initOnly {
		return nil
	}
	return serveDemo(ctx, d, reg, listenAddrs{portal: *portalAddr, console: *consoleAddr, metrics: *metricsAddr}, *crlLifetime)
}

type demo struct {
	dir     string
	out     io.Writer
	log     *slog.Logger
	metrics *hsm.Metrics
	module  string
}

func (d *demo) path(parts ...string) string {
	return filepath.Join(append([]string{d.dir}, parts...)...)
}

// init lays out the state directory. Every step is skipped when its result
// is already there, so a second run reuses everything and never generates
// a key again.
func (d *demo) init(ctx context.Context) error {
	for _, sub := range []string{"", "tokens", "pins", "pki", "ceremonies"} {
		if err := os.MkdirAll(d.path(sub), 0o700); err != nil {
			return err
		}
		// MkdirAll keeps the mode of a directory that already exists.
		if err := os.Chmod(d.path(sub), 0o700); err != nil {
			return err
		}
	}
	module, err := softhsmtestdata.ModulePath()
	if err != nil {
		return err
	}
	d.module = module
	if err := d.writeSoftHSMConfig(); err != nil {
		return err
	}
	// SoftHSM reads its configuration when the library initialises.
	if err := os.Setenv("SOFTHSM2_CONF", d.path("softhsm2.conf")); err != nil {
		return err
	}
	if err := d.initTokens(ctx); err != nil {
		return err
	}
	if err := d.writeCeremonies(); err != nil {
		return err
	}
	if err := d.runCeremonies(ctx); err != nil {
		return err
	}
	db, err := store.Open(d.path("appliance.db"), 5*time.Second)
	if err != nil {
		return err
	}
	if err := db.Close(); err != nil {
		return err
	}
	return d.initOfficers(ctx)
}

func (d *demo) writeSoftHSMConfig() error {
	conf, err := softhsmtestdata.RenderConfig(d.path("tokens"))
	if err != nil {
		return err
	}
	return writeIfAbsent(d.path("softhsm2.conf"), conf, 0o600)
}

// initTokens creates the demo tokens that do not exist yet, each with a
// random user PIN and SO PIN written to pins/ (mode 0600; demo only: a
// production appliance gets its PINs from the security officers).
func (d *demo) initTokens(ctx context.Context) error {
	mod, err := hsm.OpenModule(d.module, hsm.ModuleOptions{Logger: d.log, Metrics: d.metrics})
	if err != nil {
		return err
	}
	defer mod.Close()
	present, err := mod.Tokens(ctx)
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for _, t := range present {
		have[t.Label] = true
	}
	for _, label := range demoTokens {
		pinFile := d.path("pins", label)
		if have[label] {
			if _, err := os.Stat(pinFile); err != nil {
				return fmt.Errorf("token %q exists but its PIN file %s is missing: %w", label, pinFile, err)
			}
			continue
		}
		userPIN, soPIN := randomPIN(), randomPIN()
		if err := writeFileExcl(pinFile, []byte(userPIN+"\n")); err != nil {
			return fmt.Errorf("write PIN file (remove a stale one if the token was never created): %w", err)
		}
		if err := writeFileExcl(d.path("pins", label+".so"), []byte(soPIN+"\n")); err != nil {
			return err
		}
		if _, err := mod.InitToken(ctx, label, soPIN, userPIN); err != nil {
			return err
		}
		fmt.Fprintf(d.out, "token %s created (PIN in %s)\n", label, pinFile)
	}
	return nil
}

func (d *demo) writeCeremonies() error {
	src := softhsmtestdata.Ceremonies()
	names, err := fs.Glob(src, "*.yaml")
	if err != nil {
		return err
	}
	for _, name := range names {
		raw, err := fs.ReadFile(src, name)
		if err != nil {
			return err
		}
		t, err := template.New(name).Option("missingkey=error").Parse(string(raw))
		if err != nil {
			return fmt.Errorf("ceremony template %s: %w", name, err)
		}
		var b bytes.Buffer
		if err := t.Execute(&b, struct{ Module string }{d.module}); err != nil {
			return fmt.Errorf("ceremony template %s: %w", name, err)
		}
		if err := writeIfAbsent(d.path("ceremonies", name), b.Bytes(), 0o600); err != nil {
			return err
		}
	}
	return nil
}

// runCeremonies runs each ceremony whose output is missing. If its key is
// already on the token (an earlier run stopped between key generation and
// output), the key is reused rather than generated again.
func (d *demo) runCeremonies(ctx context.Context) error {
	paths, err := filepath.Glob(d.path("ceremonies", "*.yaml"))
	if err != nil {
		return err
	}
	sort.Strings(paths)
	for _, p := range paths {
		cfg, err := ceremony.Load(p)
		if err != nil {
			return err
		}
		done, err := d.ceremonyDone(ctx, cfg)
		if err != nil {
			return err
		}
		if done {
			continue
		}
		fmt.Fprintf(d.out, "== ceremony %s (%s)\n", filepath.Base(p), cfg.Type)
		if _, err := ceremony.RunConfig(ctx, cfg, ceremony.Options{Out: d.out, Logger: d.log, Metrics: d.metrics}); err != nil {
			return err
		}
	}
	return nil
}

// ceremonyDone reports whether cfg's results exist. For a ceremony with
// outputs that is the output files; for a key-only ceremony, the key.
func (d *demo) ceremonyDone(ctx context.Context, cfg *ceremony.Config) (bool, error) {
	outs := cfg.OutputPaths()
	if len(outs) > 0 {
		missing := 0
		for _, o := range outs {
			if _, err := os.Stat(o); errors.Is(err, os.ErrNotExist) {
				missing++
			}
		}
		if missing == 0 {
			return true, nil
		}
	}
	if cfg.Key == nil || !cfg.Key.Generate {
		return false, nil
	}
	exists, err := d.keyExists(ctx, cfg)
	if err != nil || !exists {
		return false, err
	}
	if len(outs) == 0 {
		return true, nil
	}
	// The key survived an interrupted run: certify it instead of making a new one.
	cfg.Key.Generate = false
	d.log.Info("reusing the key of an interrupted ceremony", "ceremony", cfg.Path(), "key", cfg.Key.URI)
	return false, nil
}

func (d *demo) keyExists(ctx context.Context, cfg *ceremony.Config) (bool, error) {
	uri, err := hsm.ParseURI(cfg.Key.URI)
	if err != nil {
		return false, err
	}
	mod, err := hsm.OpenModule(d.module, hsm.ModuleOptions{Logger: d.log, Metrics: d.metrics})
	if err != nil {
		return false, err
	}
	defer mod.Close()
	pin, err := hsm.ReadPIN(hsm.PINSource("file:"+d.path("pins", uri.Token)), "token "+uri.Token, nil)
	if err != nil {
		return false, err
	}
	tok, err := mod.OpenToken(ctx, hsm.URI{Token: uri.Token}, pin, hsm.TokenOptions{})
	if err != nil {
		return false, err
	}
	defer tok.Close()
	if _, err := tok.Attributes(ctx, uri); err != nil {
		if errors.Is(err, hsm.ErrKeyNotFound) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

func randomPIN() string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	return hex.EncodeToString(b)
}

func writeFileExcl(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func writeIfAbsent(path string, data []byte, mode os.FileMode) error {
	err := writeFileExcl(path, data)
	if errors.Is(err, os.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return os.Chmod(path, mode)
}

package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/psre/appliance/adminsock"
	"github.com/psre/appliance/ca"
	"github.com/psre/appliance/ca/ocsp"
	"github.com/psre/appliance/ca/tsa"
	"github.com/psre/appliance/enrollment/portal"
	"github.com/psre/appliance/hsm"
	"github.com/psre/appliance/notify"
)

// Default listeners of the demo: everything on the loopback interface.
const (
	defaultPortalAddr  = "127.0.0.1:8080"
	defaultConsoleAddr = "127.0.0.1:8081"
	defaultMetricsAddr = "127.0.0.1:9100"
)

// listenAddrs are the demo's listeners.
type listenAddrs struct {
	portal, console, metrics string
}

// maintenanceInterval is how often CRLs are checked for refreshing.
const maintenanceInterval = time.Minute

// serveDemo serves the demo's state directory (see runService).
func serveDemo(ctx context.Context, d *demo, reg *prometheus.Registry, addrs listenAddrs, crlLifetime time.Duration) error {
	return runService(ctx, d.out, d.log, reg, d.metrics, addrs, func(portalAddr string) (layout, error) {
		settings := demoSettings(portalAddr)
		settings.CRLLifetime = crlLifetime
		l, err := demoLayout(d.dir, settings)
		l.Serving, l.DevMailbox = true, true
		return l, err
	})
}

// runService opens the CA of the layout that open returns (given the
// portal's bound address) and serves the portal listener (repository:
// CRLs, CA certificates, OCSP), the metrics listener and the admin socket
// until ctx ends.
func runService(ctx context.Context, out io.Writer, log *slog.Logger, reg *prometheus.Registry, metrics *hsm.Metrics, addrs listenAddrs, open func(portalAddr string) (layout, error)) error {
	for _, c := range []prometheus.Collector{collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	portalLn, err := net.Listen("tcp", addrs.portal)
	if err != nil {
		return fmt.Errorf("listen on %s (portal): %w", addrs.portal, err)
	}
	metricsLn, err := net.Listen("tcp", addrs.metrics)
	if err != nil {
		portalLn.Close()
		return fmt.Errorf("listen on %s (metrics): %w", addrs.metrics, err)
	}
	l, err := open(portalLn.Addr().String())
	if err != nil {
		portalLn.Close()
		metricsLn.Close()
		return err
	}
	svc, err := openService(ctx, l, metrics, reg, log)
	if err != nil {
		portalLn.Close()
		metricsLn.Close()
		return err
	}
	defer svc.close()
	if err := svc.listenConsole(ctx, l, addrs.console, reg); err != nil {
		portalLn.Close()
		metricsLn.Close()
		return err
	}

	portal := svc.handler(func(r *mux.Router) { r.HandleFunc("/healthz", healthz).Methods(http.MethodGet) })
	metricsMux := mux.NewRouter()
	metricsMux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})).Methods(http.MethodGet)
	metricsMux.HandleFunc("/healthz", healthz).Methods(http.MethodGet)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, 4)
	run := func(name string, f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(); err != nil {
				errc <- fmt.Errorf("%s: %w", name, err)
				cancel()
			}
		}()
	}
	ready := make(chan struct{})
	sock := adminsock.SocketPath(l.StateDir)
	run("portal", func() error { return serveHTTP(ctx, portalLn, portal) })
	if svc.console != nil {
		run("console", func() error { return serveHTTP(ctx, svc.consoleLn, svc.console) })
	}
	run("metrics", func() error { return serveHTTP(ctx, metricsLn, metricsMux) })
	run("admin socket", func() error {
		return adminsock.Serve(ctx, sock, adminHandler(directOps{svc.st}, log), log, ready)
	})
	run("maintenance", func() error { svc.maintain(ctx, maintenanceInterval); return nil })
	run("notifications", func() error { svc.dispatcher.Run(ctx); return nil })
	select {
	case <-ready:
		base := "http://" + portalLn.Addr().String()
		fmt.Fprintf(out, "portal:   %s/ (registration at /register, login at /login; CRLs at /crl/NAME.crl, CA certificates at /certs/NAME.pem, OCSP at /ocsp, timestamps at /tsa)\n", base)
		if svc.console != nil {
			fmt.Fprintf(out, "console:  https://localhost:%d/ (officers only: TLS client certificate from the admin CA)\n", svc.consoleLn.Addr().(*net.TCPAddr).Port)
		}
		if l.DevMailbox {
			fmt.Fprintf(out, "mailbox:  %s%s (every email and SMS the demo sends)\n", base, notify.MailboxPath)
		}
		fmt.Fprintf(out, "metrics:  http://%s/metrics\nhealth:   http://%s/healthz\n", metricsLn.Addr(), metricsLn.Addr())
		fmt.Fprintf(out, "admin:    %s (used by `appliance cert ...` while this runs)\n(Ctrl-C stops)\n", sock)
	case <-ctx.Done():
	}
	wg.Wait()
	close(errc)
	return errors.Join(collect(errc)...)
}

func collect(errc <-chan error) []error {
	var errs []error
	for err := range errc {
		errs = append(errs, err)
	}
	return errs
}

func healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, "ok")
}

// serveHTTP serves h on ln until ctx ends, then shuts down gracefully.
func serveHTTP(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 120 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// service is the opened CA with what serves it.
type service struct {
	st         *state
	ocsp       *ocsp.Responder
	tsa        *tsa.Responder // nil without a TSA certificate
	portal     http.Handler
	mailbox    http.Handler // the development mailbox (demo only), else nil
	console    http.Handler // nil when the layout has no console
	consoleLn  net.Listener
	dispatcher *notify.Dispatcher
	log        *slog.Logger
}

// privacyPolicyVersion is the privacy policy applicants consent to.
const privacyPolicyVersion = "privacy-2026-11"

func openService(ctx context.Context, l layout, metrics *hsm.Metrics, reg prometheus.Registerer, log *slog.Logger) (*service, error) {
	settings := l.Settings
	st, err := openLayout(ctx, l, metrics, reg, log, ca.Hooks{})
	if err != nil {
		return nil, err
	}
	resp, err := st.startOCSP(ctx, reg)
	if err != nil {
		st.close()
		return nil, err
	}
	stamps, err := st.startTSA(ctx, l.PKIDir, reg)
	if err != nil {
		st.close()
		return nil, err
	}
	if err := st.startSigning(resp, stamps); err != nil {
		st.close()
		return nil, err
	}
	// Sessions live in memory, so a CSRF key per process is enough: a
	// restart ends every session anyway.
	csrfKey := make([]byte, 32)
	if _, err := rand.Read(csrfKey); err != nil {
		st.close()
		return nil, err
	}
	p, err := portal.New(portal.Config{Service: st.enroll, DB: st.db, CSRFKey: csrfKey,
		Secure: strings.HasPrefix(settings.BaseURL, "https://"), Logger: log, PrivacyPolicyVersion: privacyPolicyVersion,
		CaptchaDigits: l.captchaDigits})
	if err != nil {
		st.close()
		return nil, err
	}
	if n, err := st.enroll.ResumeActivations(ctx); err != nil {
		log.ErrorContext(ctx, "interrupted activations could not all be finished (they are retried at the next start or submission)", "finished", n, "error", err)
	}
	svc := &service{st: st, ocsp: resp, portal: p.Handler(), log: log}
	if stamps != nil {
		svc.tsa = stamps
	}
	if svc.dispatcher, err = newDispatcher(st, l, reg, log); err != nil {
		st.close()
		return nil, err
	}
	st.effects.wake = svc.dispatcher.Wake
	if l.DevMailbox {
		svc.mailbox = notify.MailboxHandler(st.db.DB)
	}
	return svc, nil
}

// newDispatcher sends the outbox through the layout's SMTP relay and SMS
// gateway, or (demo) only records them for the development mailbox.
func newDispatcher(st *state, l layout, reg prometheus.Registerer, log *slog.Logger) (*notify.Dispatcher, error) {
	var email, sms notify.Sender = notify.DevSender{}, notify.DevSender{}
	if !l.DevMailbox {
		if l.SMTP == nil || l.SMS == nil {
			return nil, errors.New("notifications: configure notify.smtp and notify.sms (applicants get their invoices, links and codes that way)")
		}
		var err error
		if email, err = notify.NewSMTPSender(*l.SMTP); err != nil {
			return nil, err
		}
		if sms, err = notify.NewSMSGateway(*l.SMS); err != nil {
			return nil, err
		}
	}
	return notify.NewDispatcher(notify.DispatcherConfig{DB: st.db.DB, Email: email, SMS: sms, Logger: log, Registerer: reg})
}

func (s *service) close() { s.st.close() }

// handler is the portal listener's handler: /ocsp handed to the responder
// before any router can clean the path (a GET request's base64 may contain
// "//", which routers redirect), the repository routes (/crl/, /certs/)
// and /healthz, and the applicant portal for everything else.
func (s *service) handler(extra func(*mux.Router)) http.Handler {
	r := mux.NewRouter()
	s.st.authority.RegisterRepository(r)
	extra(r)
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		switch p := req.URL.Path; {
		case p == "/ocsp" || strings.HasPrefix(p, "/ocsp/"):
			s.ocsp.ServeHTTP(w, req)
		case strings.HasPrefix(p, "/crl/") || strings.HasPrefix(p, "/certs/") || p == "/healthz":
			r.ServeHTTP(w, req)
		case p == "/tsa" && s.tsa != nil:
			s.tsa.ServeHTTP(w, req)
		case s.mailbox != nil && strings.HasPrefix(p, "/dev/"):
			s.mailbox.ServeHTTP(w, req)
		default:
			s.portal.ServeHTTP(w, req)
		}
	})
}

// maintain refreshes CRLs well before their nextUpdate until ctx ends.
func (s *service) maintain(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if n, err := s.st.authority.RefreshCRLs(ctx); err != nil {
			s.log.ErrorContext(ctx, "CRL refresh", "error", err)
		} else if n > 0 {
			s.log.InfoContext(ctx, "CRLs refreshed", "count", n)
		}
		if n, err := s.ocsp.Refresh(ctx); err != nil {
			s.log.ErrorContext(ctx, "OCSP refresh", "error", err)
		} else if n > 0 {
			s.log.InfoContext(ctx, "OCSP responses refreshed", "count", n)
		}
	}
}

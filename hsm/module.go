package hsm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"

	"github.com/miekg/pkcs11"
)

// Module is one loaded PKCS#11 library. Create one per library path per
// process and share it; Close it after every Token opened from it.
type Module struct {
	path    string
	log     *slog.Logger
	metrics *Metrics

	// mu serialises this package's own C_Initialize/C_Finalize calls with
	// crypto11's, which happen inside Configure and Close.
	mu  sync.Mutex
	raw *pkcs11.Ctx
}

// ModuleOptions are the optional parts of OpenModule.
type ModuleOptions struct {
	Logger  *slog.Logger // nil: slog.Default()
	Metrics *Metrics     // nil: no metrics
}

// OpenModule loads the PKCS#11 library at path. It fails with a
// *ModuleError (wrapping ErrModuleNotLoadable) that names the path when the
// file is missing or is not a loadable PKCS#11 library.
func OpenModule(path string, opts ModuleOptions) (*Module, error) {
	if path == "" {
		return nil, &ModuleError{Path: path, Reason: "no module path given"}
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, &ModuleError{Path: path, Reason: fmt.Sprintf("file not found (%v)", err)}
	}
	if st.IsDir() {
		return nil, &ModuleError{Path: path, Reason: "it is a directory, not a shared library"}
	}
	raw := pkcs11.New(path)
	if raw == nil {
		return nil, &ModuleError{Path: path, Reason: "dlopen failed or C_GetFunctionList is missing: not a PKCS#11 library, or one of its dependencies is missing (check with ldd)"}
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	m := &Module{path: path, log: log.With("pkcs11_module", path), metrics: opts.Metrics, raw: raw}
	// Prove the library initialises at all, so a broken module fails here
	// with its path rather than later with a puzzling error.
	if err := m.withRaw(func(*pkcs11.Ctx) error { return nil }); err != nil {
		raw.Destroy()
		return nil, &ModuleError{Path: path, Reason: fmt.Sprintf("C_Initialize failed: %v", err)}
	}
	return m, nil
}

// Path is the library path the module was loaded from.
func (m *Module) Path() string { return m.path }

// Close unloads the library handle held by m. Close every Token first.
func (m *Module) Close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.raw != nil {
		m.raw.Destroy()
		m.raw = nil
	}
}

// withRaw runs f with the library initialised. If this call initialised
// it (nobody else held it), it finalises it again afterwards; if crypto11
// holds it, it is left alone.
func (m *Module) withRaw(f func(*pkcs11.Ctx) error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.raw == nil {
		return errors.New("PKCS#11 module is closed")
	}
	err := m.raw.Initialize()
	owned := err == nil
	if err != nil && !errors.Is(err, pkcs11.Error(pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED)) {
		return fmt.Errorf("C_Initialize: %w", err)
	}
	if owned {
		defer m.raw.Finalize()
	}
	return f(m.raw)
}

// Tokens lists the initialised tokens present in the module's slots.
func (m *Module) Tokens(ctx context.Context) ([]TokenInfo, error) {
	var out []TokenInfo
	err := m.withRaw(func(p *pkcs11.Ctx) error {
		var err error
		out, err = listTokens(p)
		return err
	})
	return out, err
}

func listTokens(p *pkcs11.Ctx) ([]TokenInfo, error) {
	slots, err := p.GetSlotList(true)
	if err != nil {
		return nil, fmt.Errorf("C_GetSlotList: %w", err)
	}
	var out []TokenInfo
	for _, slot := range slots {
		ti, err := p.GetTokenInfo(slot)
		if err != nil {
			return nil, fmt.Errorf("C_GetTokenInfo(slot %d): %w", slot, err)
		}
		if ti.Flags&pkcs11.CKF_TOKEN_INITIALIZED == 0 {
			continue
		}
		out = append(out, TokenInfo{Slot: slot, Label: ti.Label, Serial: ti.SerialNumber, Model: ti.Model, flags: ti.Flags})
	}
	return out, nil
}

// findToken returns the token sel names, or a *TokenNotFoundError listing
// those present.
func findToken(tokens []TokenInfo, sel URI) (TokenInfo, error) {
	var match []TokenInfo
	for _, t := range tokens {
		if (sel.Token == "" || t.Label == sel.Token) && (sel.Serial == "" || t.Serial == sel.Serial) {
			match = append(match, t)
		}
	}
	switch len(match) {
	case 1:
		return match[0], nil
	case 0:
		return TokenInfo{}, &TokenNotFoundError{Wanted: describeToken(sel), Available: tokens}
	}
	return TokenInfo{}, fmt.Errorf("%d tokens match %s: select the token by serial= instead", len(match), describeToken(sel))
}

func describeToken(sel URI) string {
	switch {
	case sel.Token != "" && sel.Serial != "":
		return fmt.Sprintf("label=%q serial=%s", sel.Token, sel.Serial)
	case sel.Serial != "":
		return "serial=" + sel.Serial
	}
	return fmt.Sprintf("label=%q", sel.Token)
}

// InitToken initialises a fresh token labelled label in the first free
// slot, sets its SO PIN and user PIN, and returns it. It refuses a label
// that already exists. It is for the demo, tests and first-time set-up of
// SoftHSM; real HSMs are initialised with the vendor's tools.
func (m *Module) InitToken(ctx context.Context, label, soPIN, userPIN string) (TokenInfo, error) {
	if label == "" || soPIN == "" || userPIN == "" {
		return TokenInfo{}, errors.New("init token: label, SO PIN and user PIN are all required")
	}
	var out TokenInfo
	err := m.withRaw(func(p *pkcs11.Ctx) error {
		tokens, err := listTokens(p)
		if err != nil {
			return err
		}
		for _, t := range tokens {
			if t.Label == label {
				return fmt.Errorf("init token: a token labelled %q already exists (serial %s)", label, t.Serial)
			}
		}
		slots, err := p.GetSlotList(false)
		if err != nil {
			return fmt.Errorf("C_GetSlotList: %w", err)
		}
		free := -1
		for _, s := range slots {
			ti, err := p.GetTokenInfo(s)
			if err == nil && ti.Flags&pkcs11.CKF_TOKEN_INITIALIZED == 0 {
				free = int(s)
				break
			}
		}
		if free < 0 {
			return errors.New("init token: no slot with an uninitialised token is left")
		}
		if err := p.InitToken(uint(free), soPIN, label); err != nil {
			return fmt.Errorf("C_InitToken(%q): %w", label, err)
		}
		// SoftHSM renumbers the slot once the token has a serial: look again.
		tokens, err = listTokens(p)
		if err != nil {
			return err
		}
		out, err = findToken(tokens, URI{Token: label})
		if err != nil {
			return err
		}
		return setUserPIN(p, out.Slot, soPIN, userPIN)
	})
	if err != nil {
		return TokenInfo{}, err
	}
	m.log.InfoContext(ctx, "token initialised", "token", label, "serial", out.Serial)
	return out, nil
}

func setUserPIN(p *pkcs11.Ctx, slot uint, soPIN, userPIN string) error {
	s, err := p.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		return fmt.Errorf("C_OpenSession: %w", err)
	}
	defer p.CloseSession(s)
	if err := p.Login(s, pkcs11.CKU_SO, soPIN); err != nil {
		return fmt.Errorf("log in as SO: %w", err)
	}
	defer p.Logout(s)
	if err := p.InitPIN(s, userPIN); err != nil {
		return fmt.Errorf("C_InitPIN: %w", err)
	}
	return nil
}

package ceremony

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"
)

// Entry is one line of a ceremony transcript.
type Entry struct {
	Time         time.Time         `json:"time"`
	Ceremony     Type              `json:"ceremony"`
	Step         string            `json:"step"`
	ConfigSHA256 string            `json:"config_sha256"`
	KeyURI       string            `json:"key_uri,omitempty"`
	Outputs      map[string]string `json:"outputs,omitempty"` // path -> SHA-256 of the DER
	Detail       string            `json:"detail,omitempty"`
	Error        string            `json:"error,omitempty"`
}

// transcript appends entries to a JSON-lines file, syncing each, and prints
// a readable line for the officer as each step happens.
type transcript struct {
	f   *os.File
	out io.Writer
	cfg *Config
	now func() time.Time
}

func openTranscript(cfg *Config, out io.Writer, now func() time.Time) (*transcript, error) {
	f, err := os.OpenFile(cfg.Transcript, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open transcript: %w", err)
	}
	return &transcript{f: f, out: out, cfg: cfg, now: now}, nil
}

func (t *transcript) record(e Entry) error {
	e.Time = t.now().UTC()
	e.Ceremony = t.cfg.Type
	e.ConfigSHA256 = t.cfg.Hash()
	line, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode transcript entry: %w", err)
	}
	if _, err := t.f.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("append to transcript: %w", err)
	}
	if err := t.f.Sync(); err != nil {
		return fmt.Errorf("sync transcript: %w", err)
	}
	msg := fmt.Sprintf("[%s] %-18s", e.Time.Format("15:04:05"), e.Step)
	if e.KeyURI != "" {
		msg += " " + e.KeyURI
	}
	if e.Detail != "" {
		msg += " " + e.Detail
	}
	for p, fp := range e.Outputs {
		msg += fmt.Sprintf(" %s sha256:%s", p, fp)
	}
	if e.Error != "" {
		msg += " ERROR: " + e.Error
	}
	fmt.Fprintln(t.out, msg)
	return nil
}

func (t *transcript) close() error { return t.f.Close() }

package hsm

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"

	"golang.org/x/term"
)

// PINSource says where a PIN comes from: "file:/path", "env:NAME" or
// "prompt". There is deliberately no way to give the PIN itself.
type PINSource string

// PromptPIN is the PIN source that asks on the controlling terminal.
const PromptPIN PINSource = "prompt"

// Prompter reads a secret from a terminal. It exists so that tests can
// answer the prompt; production code uses TerminalPrompter.
type Prompter interface {
	ReadSecret(prompt string) (string, error)
}

// TerminalPrompter reads from the process's terminal without echo.
type TerminalPrompter struct{ Out io.Writer }

// ReadSecret prints prompt and reads a line without echo from /dev/tty.
func (p TerminalPrompter) ReadSecret(prompt string) (string, error) {
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return "", fmt.Errorf("no terminal to prompt for the PIN on (%v): %w", err, ErrPINMissing)
	}
	defer tty.Close()
	fmt.Fprint(tty, prompt)
	b, err := term.ReadPassword(int(tty.Fd()))
	fmt.Fprintln(tty)
	if err != nil {
		return "", fmt.Errorf("read PIN from terminal: %w", err)
	}
	return string(b), nil
}

// ReadPIN resolves src. what names the token for messages, e.g. "token ca".
// A PIN file must not be readable by group or others unless it is owned by
// root and group-readable only (the systemd layout: 0640 root:appliance).
func ReadPIN(src PINSource, what string, prompt Prompter) (string, error) {
	s := string(src)
	switch {
	case s == "":
		return "", fmt.Errorf("PIN for %s: %w", what, ErrPINMissing)
	case strings.HasPrefix(s, "file:"):
		return readPINFile(strings.TrimPrefix(s, "file:"), what)
	case strings.HasPrefix(s, "env:"):
		name := strings.TrimPrefix(s, "env:")
		if name == "" {
			return "", fmt.Errorf("PIN for %s: pin-source env: needs a variable name: %w", what, ErrPINMissing)
		}
		v, ok := os.LookupEnv(name)
		if !ok || v == "" {
			return "", fmt.Errorf("PIN for %s: environment variable %s is not set: %w", what, name, ErrPINMissing)
		}
		return v, nil
	case src == PromptPIN:
		if prompt == nil {
			prompt = TerminalPrompter{}
		}
		pin, err := prompt.ReadSecret(fmt.Sprintf("PIN for %s: ", what))
		if err != nil {
			return "", fmt.Errorf("PIN for %s: %w", what, err)
		}
		if pin == "" {
			return "", fmt.Errorf("PIN for %s: empty PIN entered: %w", what, ErrPINMissing)
		}
		return pin, nil
	}
	return "", fmt.Errorf("PIN for %s: unknown PIN source (not repeated, in case it is the PIN itself): use file:/path, env:NAME or prompt", what)
}

func readPINFile(path, what string) (string, error) {
	if path == "" {
		return "", fmt.Errorf("PIN for %s: pin-source file: needs a path: %w", what, ErrPINMissing)
	}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("PIN for %s: PIN file %s does not exist: %w", what, path, ErrPINMissing)
	}
	if err != nil {
		return "", fmt.Errorf("PIN for %s: open PIN file: %w", what, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("PIN for %s: stat PIN file: %w", what, err)
	}
	if err := checkPINFileMode(st); err != nil {
		return "", fmt.Errorf("PIN for %s: PIN file %s %v", what, path, err)
	}
	b, err := io.ReadAll(io.LimitReader(f, 1024))
	if err != nil {
		return "", fmt.Errorf("PIN for %s: read PIN file: %w", what, err)
	}
	pin := string(bytes.TrimRight(b, "\r\n"))
	if pin == "" {
		return "", fmt.Errorf("PIN for %s: PIN file %s is empty: %w", what, path, ErrPINMissing)
	}
	return pin, nil
}

// checkPINFileMode accepts a PIN file that only its owner can read (0600,
// 0400), or one owned by root that its group may read but not write (the
// systemd layout, 0640 root:appliance). Nobody else may read it, and no
// group may write it.
func checkPINFileMode(st os.FileInfo) error {
	perm := st.Mode().Perm()
	if !st.Mode().IsRegular() {
		return fmt.Errorf("is not a regular file")
	}
	if perm&0o077 == 0 {
		return nil
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if ok && sys.Uid == 0 && perm&0o037 == 0 {
		return nil
	}
	return fmt.Errorf("has mode %v: chmod 0600 it (or 0640 owned by root for a service group)", perm)
}

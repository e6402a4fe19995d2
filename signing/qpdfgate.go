package signing

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// qpdfTimeout bounds one qpdf --check run.
const qpdfTimeout = 20 * time.Second

// qpdfGate runs qpdf --check (Debian package qpdf) on b in its own process
// before the in-process parser sees it. The parser, digitorus/pdf, is not
// safe on malformed input: a comment inside an array ("[0 % 595 842]")
// makes it append to a slice forever until the process runs out of
// memory, and FuzzInspect finds such inputs within seconds. qpdf is fuzzed
// continuously upstream, reads every object and decodes every stream; a
// file it reports without any warning is well-formed enough for the
// parser, and what qpdf accepts but the parser still mishandles (huge
// object numbers, deep nesting) preflight refuses. The verdict also tells
// encrypted files apart.
func qpdfGate(b []byte) error {
	f, err := os.CreateTemp("", "signing-*.pdf")
	if err != nil {
		return fmt.Errorf("signing: temporary file for qpdf: %w", err)
	}
	defer os.Remove(f.Name())
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("signing: temporary file for qpdf: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), qpdfTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "qpdf", "--check", f.Name())
	out := &limitedBuffer{max: 64 << 10}
	cmd.Stdout, cmd.Stderr = out, out
	err = cmd.Run()
	text := strings.ReplaceAll(out.buf.String(), f.Name(), "input")
	var exit *exec.ExitError
	switch {
	case errors.Is(err, exec.ErrNotFound):
		return fmt.Errorf("signing: qpdf is not installed (apt-get install qpdf): %w", err)
	case ctx.Err() != nil:
		return fmt.Errorf("%w: qpdf --check did not finish in %v", ErrBroken, qpdfTimeout)
	case strings.Contains(text, "invalid password"),
		!strings.Contains(text, "File is not encrypted") && strings.Contains(text, "User password"):
		return fmt.Errorf("%w: qpdf: %s", ErrEncrypted, firstLine(text))
	case err != nil && !errors.As(err, &exit):
		return fmt.Errorf("signing: run qpdf: %w", err)
	case err != nil || !strings.Contains(text, "No syntax or stream encoding errors found"):
		return fmt.Errorf("%w: qpdf: %s", ErrBroken, problem(text))
	}
	return nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}

// problem picks qpdf's first warning or error line.
func problem(text string) string {
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, "WARNING") || strings.HasPrefix(l, "qpdf:") || strings.Contains(l, "error") {
			return strings.TrimSpace(l)
		}
	}
	return firstLine(text)
}

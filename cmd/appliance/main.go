// Command appliance is the certificate-authority appliance: one binary for
// the key ceremonies, the local demo and (later) the served faces.
//
//	appliance ceremony CONFIG.yaml          run one key ceremony
//	appliance demo --state DIR [--init-only] lay out and serve the local demo
//	appliance serve --config FILE            serve a configured appliance
//	appliance cert issue|revoke|show ...       officer operations on the CA
//	appliance crl --state DIR --ca NAME --out F sign and write a CRL
//	appliance version
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

const usage = `usage:
  appliance ceremony CONFIG.yaml             run one key ceremony (see softhsm-testdata/ceremonies)
  appliance demo --state DIR [--init-only]   lay out DIR (SoftHSM tokens, CA hierarchy, database) and serve
  appliance serve --config FILE              serve the CA of a configuration file (see systemd/appliance.yaml)
  appliance cert issue --state DIR --profile officer|tls --csr FILE [--name NAME] [--email EMAIL] [--dns NAME...] --out FILE
  appliance cert revoke --state DIR --serial HEX --reason REASON [--invalidity RFC3339]
  appliance cert show --state DIR --serial HEX
  appliance crl --state DIR --ca issuing|admin|root --out FILE
  appliance audit verify --state DIR [--every N] [--key FILE]  verify the audit log's hash chain and signed checkpoints
  appliance officer add --state DIR --name NAME --role cs|ra|auditor [--csr FILE] [--email EMAIL] [--nik-file FILE] [--out-dir DIR]
  appliance officer list --state DIR
  appliance officer disable|enable --state DIR --name NAME
  appliance version
`

// errUsage marks a command-line mistake: exit code 2 and the usage text.
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case err == nil:
	case errors.Is(err, errUsage):
		fmt.Fprintf(os.Stderr, "appliance: %v\n%s", err, usage)
		os.Exit(2)
	default:
		fmt.Fprintf(os.Stderr, "appliance: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: no command given", errUsage)
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	slog.SetDefault(logger)
	switch args[0] {
	case "ceremony":
		return ceremonyCommand(ctx, args[1:], stdout, logger)
	case "demo":
		return demoCommand(ctx, args[1:], stdout, logger)
	case "serve":
		return serveCommand(ctx, args[1:], stdout, logger)
	case "cert":
		return certCommand(ctx, args[1:], stdout, logger)
	case "crl":
		return crlCommand(ctx, args[1:], stdout, logger)
	case "officer":
		return officerCommand(ctx, args[1:], stdout, logger)
	case "audit":
		return auditCommand(ctx, args[1:], stdout, logger)
	case "version":
		fmt.Fprintln(stdout, version())
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	return fmt.Errorf("%w: unknown command %q", errUsage, args[0])
}

package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/psre/appliance/ca/ceremony"
	"github.com/psre/appliance/hsm"
)

func ceremonyCommand(ctx context.Context, args []string, stdout io.Writer, logger *slog.Logger) error {
	fs := flag.NewFlagSet("ceremony", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("%w: ceremony takes exactly one CONFIG.yaml", errUsage)
	}
	metrics, err := hsm.NewMetrics(prometheus.NewRegistry())
	if err != nil {
		return err
	}
	res, err := ceremony.Run(ctx, fs.Arg(0), ceremony.Options{Out: stdout, Logger: logger, Metrics: metrics})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "ceremony complete: key %s\n", res.KeyURI)
	return nil
}

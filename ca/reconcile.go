package ca

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/psre/appliance/store"
)

// Reconcile closes the issuance intents a crash left behind. Such an intent
// may or may not have been signed by the HSM, but its certificate was never
// stored and so never handed out; it is marked abandoned with a note, its
// serial is never reused, and it is never signed again. It returns the
// records it closed so the caller can report them.
func Reconcile(ctx context.Context, db *store.DB, log *slog.Logger) ([]store.CertRecord, error) {
	intents, err := db.Intents()
	if err != nil {
		return nil, fmt.Errorf("list issuance intents: %w", err)
	}
	for _, r := range intents {
		const note = "interrupted between intent and store (crash or kill); no certificate was handed out; closed by start-up reconciliation"
		if err := db.AbandonIntent(r.Serial, note); err != nil {
			return nil, fmt.Errorf("close intent %s: %w", r.Serial, err)
		}
		log.WarnContext(ctx, "issuance intent without a stored certificate reconciled",
			"serial", r.Serial, "ca", r.CA, "profile", r.Profile, "requester", r.Requester,
			"tbs_sha256", fmt.Sprintf("%x", r.TBSHash), "created", r.Created)
	}
	return intents, nil
}

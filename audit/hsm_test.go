package audit

import (
	"context"
	"crypto/x509"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/psre/appliance/hsm"
	"github.com/psre/appliance/hsm/hsmtest"
)

// TestSoftHSMCheckpoints signs checkpoints with a P-256 key generated in
// SoftHSM (as the audit ceremony does) and verifies them with its public
// key as an auditor holds it: PKIX DER, parsed without the HSM.
func TestSoftHSMCheckpoints(t *testing.T) {
	env := hsmtest.New(t)
	tok := env.Token(t, "ca")
	signer, uri, err := tok.GenerateKeyPair(context.Background(), "audit", hsm.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(signer.Public())
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		t.Fatal(err)
	}
	db := openDB(t)
	l := newLog(t, signer, 10)
	if err := db.Update(l.Init); err != nil {
		t.Fatal(err)
	}
	appendN(t, db, l, 25)
	if ok, err := l.Checkpoint(db); !ok || err != nil {
		t.Fatalf("shutdown Checkpoint with %s: %v, %v", uri, ok, err)
	}
	rep, err := verify(db, pub, 10)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Records != 25 || rep.Checkpoints != 3 || rep.LastCheckpoint != 25 || rep.Unsigned != 0 {
		t.Errorf("report %+v", rep)
	}
	// Another key does not verify the HSM's checkpoints.
	_, err = verify(db, ecKey(t).Public(), 10)
	wantBroken(t, err, 10, "signature does not verify")
	// Nor does a changed record pass the HSM-signed checkpoint after it.
	if err := db.Update(func(tx *bolt.Tx) error {
		r := getRecord(t, tx, 12)
		r.Object = "serial-99"
		putJSON(t, tx, bucketRecords, 12, r)
		rechain(t, tx, 12, 25)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	_, err = verify(db, pub, 10)
	wantBroken(t, err, 20, "checkpoint 20 signed")
}

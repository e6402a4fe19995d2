package audit

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	bolt "go.etcd.io/bbolt"
)

// checkpointSeqs lists the stored checkpoints.
func checkpointSeqs(t *testing.T, db *bolt.DB) []uint64 {
	t.Helper()
	var seqs []uint64
	db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketCheckpoints); b != nil {
			return b.ForEach(func(k, _ []byte) error { seqs = append(seqs, lastSeq(k)); return nil })
		}
		return nil
	})
	return seqs
}

func TestCheckpointsEveryNAndAtShutdown(t *testing.T) {
	key := ecKey(t)
	db := openDB(t)
	reg := prometheus.NewPedanticRegistry()
	l, err := New(Config{Signer: key, Every: 10, Now: newClock().now, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(l.Init); err != nil {
		t.Fatal(err)
	}
	appendN(t, db, l, 25)
	if got := fmt.Sprint(checkpointSeqs(t, db)); got != "[10 20]" {
		t.Errorf("checkpoints %s after 25 records, want [10 20]", got)
	}
	rep, err := verify(db, key.Public(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Records != 25 || rep.Checkpoints != 2 || rep.LastCheckpoint != 20 || rep.Unsigned != 5 || rep.TimeRegressions != 0 {
		t.Errorf("report %+v", rep)
	}
	// Shutdown signs the tail once; a second call has nothing to sign.
	for i, want := range []bool{true, false} {
		if ok, err := l.Checkpoint(db); err != nil || ok != want {
			t.Errorf("Checkpoint #%d: %v, %v; want %v", i+1, ok, err, want)
		}
	}
	// The next periodic checkpoint counts from the shutdown one.
	appendN(t, db, l, 10)
	if got := fmt.Sprint(checkpointSeqs(t, db)); got != "[10 20 25 35]" {
		t.Errorf("checkpoints %s, want [10 20 25 35]", got)
	}
	rep, err = verify(db, key.Public(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Records != 35 || rep.Checkpoints != 4 || rep.Unsigned != 0 || len(rep.HeadHash) != 64 {
		t.Errorf("report %+v", rep)
	}
	for name, want := range map[string]float64{
		"appliance_audit_records_total":            35,
		"appliance_audit_checkpoints_total":        4,
		"appliance_audit_checkpoint_errors_total":  0,
		"appliance_audit_last_checkpoint_sequence": 35,
	} {
		if got := gathered(t, reg, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	// A second Log on the same file (a restart) continues the chain and
	// publishes the last checkpoint on Init.
	reg2 := prometheus.NewRegistry()
	l2, err := New(Config{Signer: key, Every: 10, Registerer: reg2})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(l2.Init); err != nil {
		t.Fatal(err)
	}
	if got := gathered(t, reg2, "appliance_audit_last_checkpoint_sequence"); got != 35 {
		t.Errorf("after restart the last checkpoint metric is %v, want 35", got)
	}
	appendN(t, db, l2, 1)
	if rep, err := verify(db, key.Public(), 10); err != nil || rep.Head != 36 {
		t.Errorf("after restart: %+v, %v", rep, err)
	}
}

func gathered(t *testing.T, g prometheus.Gatherer, name string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			m := mf.GetMetric()[0]
			if m.GetCounter() != nil {
				return m.GetCounter().GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	t.Fatalf("metric %s not gathered", name)
	return 0
}

func TestRollbackLeavesNothing(t *testing.T) {
	key := ecKey(t)
	db := openDB(t)
	reg := prometheus.NewRegistry()
	l, err := New(Config{Signer: key, Every: 3, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, db, l, 2)
	var inTx Record
	errAction := errors.New("the action failed after its audit record")
	err = db.Update(func(tx *bolt.Tx) error {
		var err error
		if inTx, err = l.Append(tx, entry(3)); err != nil { // seq 3 signs a checkpoint
			return err
		}
		return errAction
	})
	if !errors.Is(err, errAction) || inTx.Seq != 3 {
		t.Fatalf("Update: %v, record %d", err, inTx.Seq)
	}
	if n, c := count(t, db, bucketRecords), count(t, db, bucketCheckpoints); n != 2 || c != 0 {
		t.Errorf("after rollback: %d records, %d checkpoints; want 2, 0", n, c)
	}
	if got := gathered(t, reg, "appliance_audit_records_total"); got != 2 {
		t.Errorf("records_total %v after a rollback, want 2", got)
	}
	if got := gathered(t, reg, "appliance_audit_checkpoints_total"); got != 0 {
		t.Errorf("checkpoints_total %v after a rollback, want 0", got)
	}
	appendN(t, db, l, 1)
	rep, err := verify(db, key.Public(), 3)
	if err != nil || rep.Head != 3 || rep.Checkpoints != 1 {
		t.Errorf("after rollback and append: %+v, %v", rep, err)
	}
}

func TestSigningFailureFailsTheAction(t *testing.T) {
	s := &flakySigner{Signer: ecKey(t)}
	db := openDB(t)
	reg := prometheus.NewRegistry()
	l, err := New(Config{Signer: s, Every: 2, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, db, l, 1)
	s.fail.Store(true)
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte("actions"))
		if err != nil {
			return err
		}
		if err := b.Put([]byte("action"), []byte("x")); err != nil {
			return err
		}
		_, err = l.Append(tx, entry(2))
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "sign checkpoint 2") || !strings.Contains(err.Error(), "CKR_DEVICE_ERROR") {
		t.Fatalf("Append with a failing HSM: %v", err)
	}
	if n, a := count(t, db, bucketRecords), count(t, db, []byte("actions")); n != 1 || a != 0 {
		t.Errorf("%d records and %d actions, want 1 and 0: the action and its record must be gone", n, a)
	}
	if got := gathered(t, reg, "appliance_audit_checkpoint_errors_total"); got != 1 {
		t.Errorf("checkpoint_errors_total = %v, want 1", got)
	}
	if ok, err := l.Checkpoint(db); ok || err == nil {
		t.Errorf("Checkpoint with a failing HSM: %v, %v", ok, err)
	}
	s.fail.Store(false)
	appendN(t, db, l, 1)
	if rep, err := verify(db, s.Public(), 2); err != nil || rep.Checkpoints != 1 || rep.Head != 2 {
		t.Errorf("after recovery: %+v, %v", rep, err)
	}
}

func TestConcurrentAppends(t *testing.T) {
	const workers, each, every = 8, 40, 7
	key := ecKey(t)
	db := openDB(t)
	l := newLog(t, key, every)
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	seqs := make(chan uint64, workers*each)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				var r Record
				fn := func(tx *bolt.Tx) (err error) {
					r, err = l.Append(tx, Entry{Actor: fmt.Sprintf("worker-%d", w), Action: "test", Object: fmt.Sprint(i)})
					return err
				}
				var err error
				if w%2 == 0 {
					err = db.Update(fn)
				} else {
					err = db.Batch(fn) // several appends in one transaction
				}
				if err != nil {
					errs <- err
					return
				}
				seqs <- r.Seq
			}
		})
	}
	wg.Wait()
	close(errs)
	close(seqs)
	for err := range errs {
		t.Fatal(err)
	}
	seen := map[uint64]bool{}
	for s := range seqs {
		if seen[s] {
			t.Errorf("seq %d returned twice", s)
		}
		seen[s] = true
	}
	rep, err := verify(db, key.Public(), every)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Records != workers*each || len(seen) != workers*each || rep.Checkpoints != workers*each/every {
		t.Errorf("report %+v, %d distinct seqs", rep, len(seen))
	}
}

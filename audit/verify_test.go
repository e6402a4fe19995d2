package audit

// Tampering with the stored log, each the way someone with the file would
// do it: Verify must name the first broken record or missing checkpoint.

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"encoding/json"
	"testing"

	bolt "go.etcd.io/bbolt"
)

func getRecord(t *testing.T, tx *bolt.Tx, seq uint64) Record {
	t.Helper()
	var r Record
	if err := json.Unmarshal(tx.Bucket(bucketRecords).Get(seqKey(seq)), &r); err != nil {
		t.Fatalf("record %d: %v", seq, err)
	}
	return r
}

func putJSON(t *testing.T, tx *bolt.Tx, bucket []byte, seq uint64, v any) {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Bucket(bucket).Put(seqKey(seq), raw); err != nil {
		t.Fatal(err)
	}
}

// rechain recomputes the hashes of records from..to so each chains to the
// one before, as a careful forger would, and moves the head along.
func rechain(t *testing.T, tx *bolt.Tx, from, to uint64) {
	t.Helper()
	prev := zeroHash
	if from > 1 {
		prev = getRecord(t, tx, from-1).Hash
	}
	for s := from; s <= to; s++ {
		r := getRecord(t, tx, s)
		r.Prev = prev
		h, err := computeHash(&r)
		if err != nil {
			t.Fatal(err)
		}
		r.Hash, prev = h, h
		putJSON(t, tx, bucketRecords, s, r)
	}
	h, err := readHead(tx)
	if err != nil {
		t.Fatal(err)
	}
	if h.Seq == to {
		h.Hash = prev
		if err := writeHead(tx, h); err != nil {
			t.Fatal(err)
		}
	}
}

func del(t *testing.T, tx *bolt.Tx, bucket []byte, from, to uint64) {
	t.Helper()
	for s := from; s <= to; s++ {
		if err := tx.Bucket(bucket).Delete(seqKey(s)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestVerifyCatchesTampering(t *testing.T) {
	const n, every = 250, 100 // checkpoints at 100 and 200; 50 records unsigned
	key := ecKey(t)
	for _, tc := range []struct {
		name     string
		shutdown bool // sign a checkpoint of the tail (250) first
		tamper   func(t *testing.T, tx *bolt.Tx)
		seq      uint64
		reason   string
	}{
		{"one byte of a record's actor", false, func(t *testing.T, tx *bolt.Tx) {
			raw := bytes.Clone(tx.Bucket(bucketRecords).Get(seqKey(17)))
			i := bytes.Index(raw, []byte(`"officer-17"`))
			raw[i+1] = 'O'
			tx.Bucket(bucketRecords).Put(seqKey(17), raw)
		}, 17, "contents do not match its hash"},
		{"one byte of a record in the unsigned tail", false, func(t *testing.T, tx *bolt.Tx) {
			raw := bytes.Clone(tx.Bucket(bucketRecords).Get(seqKey(240)))
			i := bytes.Index(raw, []byte(`cert.issue`))
			raw[i] = 'k'
			tx.Bucket(bucketRecords).Put(seqKey(240), raw)
		}, 240, "contents do not match"},
		{"a record made undecodable", false, func(t *testing.T, tx *bolt.Tx) {
			tx.Bucket(bucketRecords).Put(seqKey(30), []byte(`{"seq":30,`))
		}, 30, "not a valid record"},
		{"a record deleted", false, func(t *testing.T, tx *bolt.Tx) { del(t, tx, bucketRecords, 17, 17) }, 17, "record 17 is missing"},
		{"two records swapped", false, func(t *testing.T, tx *bolt.Tx) {
			b := tx.Bucket(bucketRecords)
			r3, r5 := bytes.Clone(b.Get(seqKey(3))), bytes.Clone(b.Get(seqKey(5)))
			b.Put(seqKey(3), r5)
			b.Put(seqKey(5), r3)
		}, 3, "says it is record 5"},
		{"two records swapped with renumbering and rechaining", false, func(t *testing.T, tx *bolt.Tx) {
			r3, r5 := getRecord(t, tx, 3), getRecord(t, tx, 5)
			r3.Seq, r5.Seq = 5, 3
			putJSON(t, tx, bucketRecords, 3, r5)
			putJSON(t, tx, bucketRecords, 5, r3)
			rechain(t, tx, 3, n)
		}, 100, "hash differs from the one checkpoint 100 signed"},
		{"a record's prev rewritten and its hash recomputed", false, func(t *testing.T, tx *bolt.Tx) {
			r := getRecord(t, tx, 18)
			r.Prev = getRecord(t, tx, 16).Hash
			r.Hash, _ = computeHash(&r)
			putJSON(t, tx, bucketRecords, 18, r)
		}, 18, "hash does not chain to record 17"},
		{"a record rewritten and the chain recomputed to the head", false, func(t *testing.T, tx *bolt.Tx) {
			r := getRecord(t, tx, 17)
			r.Actor = "someone-else"
			putJSON(t, tx, bucketRecords, 17, r)
			rechain(t, tx, 17, n)
		}, 100, "checkpoint 100 signed"},
		{"a checkpoint deleted", false, func(t *testing.T, tx *bolt.Tx) { del(t, tx, bucketCheckpoints, 100, 100) }, 100, "checkpoint missing"},
		{"the shutdown checkpoint deleted", true, func(t *testing.T, tx *bolt.Tx) { del(t, tx, bucketCheckpoints, 250, 250) }, 250, "checkpoint 250 is missing"},
		{"a checkpoint signature forged", false, func(t *testing.T, tx *bolt.Tx) {
			var cp Checkpoint
			json.Unmarshal(tx.Bucket(bucketCheckpoints).Get(seqKey(200)), &cp)
			cp.Signature[len(cp.Signature)-1] ^= 1
			putJSON(t, tx, bucketCheckpoints, 200, cp)
		}, 200, "signature does not verify"},
		{"a checkpoint signed by another key", false, func(t *testing.T, tx *bolt.Tx) {
			var cp Checkpoint
			json.Unmarshal(tx.Bucket(bucketCheckpoints).Get(seqKey(200)), &cp)
			d, _ := checkpointDigest(cp.Seq, cp.Hash, cp.Time)
			cp.Signature, _ = ecKey(t).Sign(rand.Reader, d, crypto.SHA256)
			putJSON(t, tx, bucketCheckpoints, 200, cp)
		}, 200, "signature does not verify"},
		{"a checkpoint moved to another seq", false, func(t *testing.T, tx *bolt.Tx) {
			b := tx.Bucket(bucketCheckpoints)
			b.Put(seqKey(150), bytes.Clone(b.Get(seqKey(200))))
		}, 150, "says it is checkpoint 200"},
		{"the tail truncated", false, func(t *testing.T, tx *bolt.Tx) { del(t, tx, bucketRecords, 241, n) }, 241, "tail truncated"},
		{"the tail truncated past a checkpoint", false, func(t *testing.T, tx *bolt.Tx) { del(t, tx, bucketRecords, 150, n) }, 150, "covers records up to 200"},
		{"every record deleted", false, func(t *testing.T, tx *bolt.Tx) { del(t, tx, bucketRecords, 1, n) }, 1, "record 1 is missing"},
		{"a record added outside the log", false, func(t *testing.T, tx *bolt.Tx) {
			r := Record{Seq: n + 1, Time: getRecord(t, tx, n).Time, Actor: "x", Action: "y", Prev: getRecord(t, tx, n).Hash}
			r.Hash, _ = computeHash(&r)
			putJSON(t, tx, bucketRecords, n+1, r)
		}, n + 1, "beyond the log's head"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := openDB(t)
			l := newLog(t, key, every)
			appendN(t, db, l, n)
			if tc.shutdown {
				if ok, err := l.Checkpoint(db); !ok || err != nil {
					t.Fatalf("Checkpoint: %v, %v", ok, err)
				}
			}
			if _, err := verify(db, key.Public(), every); err != nil {
				t.Fatalf("Verify before tampering: %v", err)
			}
			if err := db.Update(func(tx *bolt.Tx) error { tc.tamper(t, tx); return nil }); err != nil {
				t.Fatal(err)
			}
			_, err := verify(db, key.Public(), every)
			wantBroken(t, err, tc.seq, tc.reason)
		})
	}
}

func TestVerifyInterval(t *testing.T) {
	// A log written with checkpoints every 100 does not satisfy an auditor
	// who expects one every 50; the first record short of one is named.
	key := ecKey(t)
	db := openDB(t)
	appendN(t, db, newLog(t, key, 100), 120)
	if _, err := verify(db, key.Public(), 100); err != nil {
		t.Fatal(err)
	}
	_, err := verify(db, key.Public(), 50)
	wantBroken(t, err, 50, "one is due every 50")
	if _, err := verify(db, ecKey(t).Public(), 100); err == nil {
		t.Error("Verify with another key passed")
	} else {
		wantBroken(t, err, 100, "signature does not verify")
	}
	for _, every := range []int{0, -1, maxEvery + 1} {
		if _, err := verify(db, key.Public(), every); err == nil {
			t.Errorf("Verify with every=%d passed", every)
		} else if _, ok := IsBroken(err); ok {
			t.Errorf("Verify with every=%d: %v is a BrokenError, want an argument error", every, err)
		}
	}
}

package audit

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Report is the outcome of a successful Verify.
type Report struct {
	Records         uint64 `json:"records"` // records 1..Head, all present
	Head            uint64 `json:"head"`
	HeadHash        string `json:"head_hash"`
	Checkpoints     int    `json:"checkpoints"`
	LastCheckpoint  uint64 `json:"last_checkpoint"`
	Unsigned        uint64 `json:"unsigned"`         // records after the last checkpoint: chained, not yet signed
	TimeRegressions int    `json:"time_regressions"` // records stamped earlier than their predecessor (a clock step)
}

// BrokenError names the first broken record or missing checkpoint, in
// sequence order.
type BrokenError struct {
	Seq    uint64 `json:"seq"`
	Reason string `json:"reason"`
}

func (e *BrokenError) Error() string { return "audit log broken: " + e.Reason }

func broken(seq uint64, format string, args ...any) error {
	return &BrokenError{Seq: seq, Reason: fmt.Sprintf(format, args...)}
}

// storedCheckpoint is a checkpoint read from its bucket, or why it could
// not be.
type storedCheckpoint struct {
	cp  Checkpoint
	bad string
}

// Verify checks the whole log in tx against the audit public key and the
// checkpoint interval every (the service's setting). A damaged log gives a
// *BrokenError naming the first broken record or missing checkpoint; other
// errors are about the arguments. It checks, in sequence order:
//   - records are stored under keys 1, 2, 3... with no gap (a deleted record);
//   - each record's own Seq equals its key (records swapped or moved);
//   - each record's Prev is the previous record's Hash, and its Hash
//     recomputes from its contents (a changed byte);
//   - each checkpoint's signature verifies and it signs the hash of the
//     record at its seq (records rewritten and re-chained);
//   - no run of every records passes without a checkpoint, from 0 to the
//     first and between consecutive ones, and the tail after the last one is
//     shorter than every (a deleted checkpoint);
//   - no checkpoint lies beyond the last record, and the stored head names
//     the last record and the last checkpoint (a truncated tail).
//
// A record stamped earlier than its predecessor is counted in the Report,
// not refused: the hash covers the time, so this is a clock step, not
// tampering, and an append-only log could never be repaired from it.
func Verify(tx *bolt.Tx, pub crypto.PublicKey, every int) (Report, error) {
	var rep Report
	key, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return rep, fmt.Errorf("audit: verify: the audit key is %T, want ECDSA", pub)
	}
	if every < 1 || every > maxEvery {
		return rep, fmt.Errorf("audit: verify: checkpoint interval %d out of range 1..%d", every, maxEvery)
	}
	cps, err := readCheckpoints(tx)
	if err != nil {
		return rep, err
	}
	prev, prevTime, lastCP := zeroHash, time.Time{}, uint64(0)
	expect := uint64(1)
	if b := tx.Bucket(bucketRecords); b != nil {
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if len(k) != 8 {
				return rep, broken(expect, "record %d: a malformed key %x is stored in its place", expect, k)
			}
			if seq := binary.BigEndian.Uint64(k); seq != expect {
				return rep, broken(expect, "record %d is missing (the next stored record is %d)", expect, seq)
			}
			var r Record
			dec := json.NewDecoder(bytes.NewReader(v))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&r); err != nil {
				return rep, broken(expect, "record %d is not a valid record: %v", expect, err)
			}
			switch {
			case r.Seq != expect:
				return rep, broken(expect, "record %d: the record stored there says it is record %d (records reordered or moved)", expect, r.Seq)
			case r.Prev != prev && expect == 1:
				return rep, broken(expect, "record 1: its previous hash is not the zero hash")
			case r.Prev != prev:
				return rep, broken(expect, "record %d: hash does not chain to record %d", expect, expect-1)
			}
			if h, err := computeHash(&r); err != nil || h != r.Hash {
				return rep, broken(expect, "record %d: contents do not match its hash (the record was changed)", expect)
			}
			if r.Time.Before(prevTime) {
				rep.TimeRegressions++
			}
			if sc, ok := cps[expect]; ok {
				if err := checkCheckpoint(key, sc, r); err != nil {
					return rep, err
				}
				delete(cps, expect)
				lastCP = expect
				rep.Checkpoints++
			} else if expect-lastCP >= uint64(every) {
				return rep, broken(expect, "record %d: checkpoint missing (no signed checkpoint in records %d..%d, one is due every %d)", expect, lastCP+1, expect, every)
			}
			prev, prevTime = r.Hash, r.Time
			expect++
		}
	}
	last := expect - 1
	// Any checkpoint left is at 0, which no record has, or beyond the last record.
	if _, ok := cps[0]; ok {
		return rep, broken(0, "checkpoint 0 is stored, but no record 0 exists")
	}
	if len(cps) > 0 {
		return rep, broken(last+1, "record %d is missing: a checkpoint covers records up to %d (tail truncated)", last+1, maxKey(cps))
	}
	if err := checkHead(tx, last, prev, lastCP); err != nil {
		return rep, err
	}
	rep.Records, rep.Head, rep.HeadHash, rep.LastCheckpoint, rep.Unsigned = last, last, prev, lastCP, last-lastCP
	return rep, nil
}

func readCheckpoints(tx *bolt.Tx) (map[uint64]storedCheckpoint, error) {
	cps := map[uint64]storedCheckpoint{}
	b := tx.Bucket(bucketCheckpoints)
	if b == nil {
		return cps, nil
	}
	err := b.ForEach(func(k, v []byte) error {
		if len(k) != 8 {
			return broken(0, "the checkpoint bucket holds a malformed key %x", k)
		}
		seq := binary.BigEndian.Uint64(k)
		var sc storedCheckpoint
		dec := json.NewDecoder(bytes.NewReader(v))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&sc.cp); err != nil {
			sc.bad = fmt.Sprintf("not a valid checkpoint: %v", err)
		} else if sc.cp.Seq != seq {
			sc.bad = fmt.Sprintf("the checkpoint stored there says it is checkpoint %d", sc.cp.Seq)
		}
		cps[seq] = sc
		return nil
	})
	return cps, err
}

func checkCheckpoint(key *ecdsa.PublicKey, sc storedCheckpoint, r Record) error {
	if sc.bad != "" {
		return broken(r.Seq, "checkpoint %d: %s", r.Seq, sc.bad)
	}
	digest, err := checkpointDigest(sc.cp.Seq, sc.cp.Hash, sc.cp.Time)
	if err != nil || !ecdsa.VerifyASN1(key, digest, sc.cp.Signature) {
		return broken(r.Seq, "checkpoint %d: signature does not verify with the audit key", r.Seq)
	}
	if sc.cp.Hash != r.Hash {
		return broken(r.Seq, "record %d: hash differs from the one checkpoint %d signed (records up to %d were rewritten)", r.Seq, r.Seq, r.Seq)
	}
	return nil
}

// checkHead compares the stored head with what the walk found.
func checkHead(tx *bolt.Tx, last uint64, lastHash string, lastCP uint64) error {
	h, err := readHead(tx)
	if err != nil {
		return broken(last, "the log's head record is unreadable: %v", err)
	}
	switch {
	case h.Seq > last:
		return broken(last+1, "record %d is missing: the log's head is record %d (tail truncated)", last+1, h.Seq)
	case h.Seq < last:
		return broken(h.Seq+1, "record %d is beyond the log's head %d (written outside the log)", h.Seq+1, h.Seq)
	case h.Hash != lastHash:
		return broken(last, "record %d: hash differs from the log's head", last)
	case h.Checkpoint > lastCP:
		return broken(h.Checkpoint, "checkpoint %d is missing (the log's head records it)", h.Checkpoint)
	case h.Checkpoint < lastCP:
		return broken(lastCP, "checkpoint %d is not the log's last checkpoint %d", lastCP, h.Checkpoint)
	}
	return nil
}

func maxKey(m map[uint64]storedCheckpoint) uint64 {
	var top uint64
	for k := range m {
		top = max(top, k)
	}
	return top
}

// IsBroken reports whether err is (or wraps) a *BrokenError and returns it.
func IsBroken(err error) (*BrokenError, bool) {
	var b *BrokenError
	ok := errors.As(err, &b)
	return b, ok
}

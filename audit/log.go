package audit

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	bolt "go.etcd.io/bbolt"
)

// The buckets this package owns.
var (
	bucketRecords     = []byte("audit")             // 8-byte big-endian seq -> JSON Record
	bucketCheckpoints = []byte("audit_checkpoints") // 8-byte big-endian seq -> JSON Checkpoint
	bucketMeta        = []byte("audit_meta")        // keyHead -> JSON head
	keyHead           = []byte("head")
)

// DefaultEvery is the default number of records between checkpoints.
const DefaultEvery = 100

// maxEvery bounds Config.Every: a longer unsigned stretch is not an audit log.
const maxEvery = 1_000_000

// ErrInconsistent means the stored head does not match the stored records:
// the log was damaged or tampered with, and nothing more is appended until
// `appliance audit verify` has been run and the incident handled.
var ErrInconsistent = errors.New("audit log head does not match its records")

// Checkpoint is a signature by the audit key over the hash of record Seq
// (and so, through the chain, over records 1..Seq).
type Checkpoint struct {
	Seq       uint64    `json:"seq"`
	Hash      string    `json:"hash"` // the Hash of record Seq
	Time      time.Time `json:"time"`
	Signature []byte    `json:"signature"` // ASN.1 ECDSA over checkpointDigest
}

// head is the log's end, kept in the same transactions as the records.
type head struct {
	Seq        uint64 `json:"seq"`
	Hash       string `json:"hash"`
	Checkpoint uint64 `json:"checkpoint"` // seq of the last checkpoint, 0 if none
}

// Config configures a Log.
type Config struct {
	Signer     crypto.Signer         // the audit key (ECDSA), normally in the HSM
	Every      int                   // records between checkpoints; 0 means DefaultEvery
	Now        func() time.Time      // nil means time.Now
	Registerer prometheus.Registerer // nil: metrics are kept but not registered
}

// Log appends records and signs checkpoints. It holds no state of the log
// itself: the head is read from the database in each transaction, so a
// rolled-back transaction leaves nothing behind and a Log is safe for
// concurrent use.
type Log struct {
	signer crypto.Signer
	every  uint64
	now    func() time.Time
	m      *metrics
}

// New checks cfg and creates the log's metrics.
func New(cfg Config) (*Log, error) {
	if cfg.Signer == nil {
		return nil, errors.New("audit: no signer for checkpoints")
	}
	if pub, ok := cfg.Signer.Public().(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P256() && pub.Curve != elliptic.P384() {
		return nil, fmt.Errorf("audit: the checkpoint key is %T, want ECDSA P-256 or P-384", cfg.Signer.Public())
	}
	if cfg.Every == 0 {
		cfg.Every = DefaultEvery
	}
	if cfg.Every < 1 || cfg.Every > maxEvery {
		return nil, fmt.Errorf("audit: checkpoint interval %d out of range 1..%d", cfg.Every, maxEvery)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	return &Log{signer: cfg.Signer, every: uint64(cfg.Every), now: cfg.Now, m: m}, nil
}

// Init creates the log's buckets if they are missing (tx must be writable)
// and publishes the last checkpoint's seq as a metric.
func (l *Log) Init(tx *bolt.Tx) error {
	if err := createBuckets(tx); err != nil {
		return err
	}
	h, err := readHead(tx)
	if err != nil {
		return err
	}
	tx.OnCommit(func() { l.m.lastCheckpoint.Set(float64(h.Checkpoint)) })
	return nil
}

func createBuckets(tx *bolt.Tx) error {
	for _, name := range [][]byte{bucketRecords, bucketCheckpoints, bucketMeta} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("audit: create bucket %s: %w", name, err)
		}
	}
	return nil
}

// Append writes the record of e in tx, the caller's write transaction of
// the action it records: the action and its record commit together or not
// at all. When Every records have passed since the last checkpoint it signs
// one in the same transaction; if that signature fails, Append fails and
// so must the action (the audit log is never bypassed).
func (l *Log) Append(tx *bolt.Tx, e Entry) (Record, error) {
	if !tx.Writable() {
		return Record{}, errors.New("audit: append needs a write transaction")
	}
	if err := checkEntry(e); err != nil {
		return Record{}, err
	}
	if err := createBuckets(tx); err != nil {
		return Record{}, err
	}
	h, err := readHead(tx)
	if err != nil {
		return Record{}, err
	}
	if last, _ := tx.Bucket(bucketRecords).Cursor().Last(); lastSeq(last) != h.Seq {
		return Record{}, fmt.Errorf("audit: %w (head %d, last record %d)", ErrInconsistent, h.Seq, lastSeq(last))
	}
	r := Record{Seq: h.Seq + 1, Time: l.now().UTC().Round(0), Actor: e.Actor, Action: e.Action, Object: e.Object, Prev: h.Hash}
	if len(e.Details) > 0 {
		r.Details = make(map[string]string, len(e.Details))
		for k, v := range e.Details {
			r.Details[k] = v
		}
	}
	if r.Hash, err = computeHash(&r); err != nil {
		return Record{}, fmt.Errorf("audit: record %d: %w", r.Seq, err)
	}
	raw, err := json.Marshal(r)
	if err != nil {
		return Record{}, fmt.Errorf("audit: encode record %d: %w", r.Seq, err)
	}
	if err := tx.Bucket(bucketRecords).Put(seqKey(r.Seq), raw); err != nil {
		return Record{}, fmt.Errorf("audit: store record %d: %w", r.Seq, err)
	}
	h.Seq, h.Hash = r.Seq, r.Hash
	if h.Seq-h.Checkpoint >= l.every {
		if err := l.checkpoint(tx, &h); err != nil {
			return Record{}, err
		}
	}
	if err := writeHead(tx, h); err != nil {
		return Record{}, err
	}
	tx.OnCommit(l.m.records.Inc)
	return r, nil
}

// Checkpoint signs a checkpoint of the head if records were appended since
// the last one (at shutdown, so the tail is covered too). It reports
// whether it signed one.
func (l *Log) Checkpoint(db *bolt.DB) (bool, error) {
	signed := false
	err := db.Update(func(tx *bolt.Tx) error {
		signed = false
		if err := createBuckets(tx); err != nil {
			return err
		}
		h, err := readHead(tx)
		if err != nil || h.Seq == h.Checkpoint {
			return err
		}
		if err := l.checkpoint(tx, &h); err != nil {
			return err
		}
		signed = true
		return writeHead(tx, h)
	})
	return signed, err
}

// checkpoint signs and stores a checkpoint of h and moves h.Checkpoint.
func (l *Log) checkpoint(tx *bolt.Tx, h *head) error {
	cp := Checkpoint{Seq: h.Seq, Hash: h.Hash, Time: l.now().UTC().Round(0)}
	digest, err := checkpointDigest(cp.Seq, cp.Hash, cp.Time)
	if err == nil {
		cp.Signature, err = l.signer.Sign(rand.Reader, digest, crypto.SHA256)
	}
	if err != nil {
		l.m.checkpointErrors.Inc()
		return fmt.Errorf("audit: sign checkpoint %d: %w", cp.Seq, err)
	}
	raw, err := json.Marshal(cp)
	if err != nil {
		return fmt.Errorf("audit: encode checkpoint %d: %w", cp.Seq, err)
	}
	if err := tx.Bucket(bucketCheckpoints).Put(seqKey(cp.Seq), raw); err != nil {
		return fmt.Errorf("audit: store checkpoint %d: %w", cp.Seq, err)
	}
	h.Checkpoint = cp.Seq
	tx.OnCommit(func() {
		l.m.checkpoints.Inc()
		l.m.lastCheckpoint.Set(float64(cp.Seq))
	})
	return nil
}

// readHead returns the stored head; an empty log's head has Prev zeroHash.
func readHead(tx *bolt.Tx) (head, error) {
	h := head{Hash: zeroHash}
	b := tx.Bucket(bucketMeta)
	if b == nil {
		return h, nil
	}
	raw := b.Get(keyHead)
	if raw == nil {
		return h, nil
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		return h, fmt.Errorf("audit: decode head: %w", err)
	}
	return h, nil
}

func writeHead(tx *bolt.Tx, h head) error {
	raw, err := json.Marshal(h)
	if err != nil {
		return fmt.Errorf("audit: encode head: %w", err)
	}
	if err := tx.Bucket(bucketMeta).Put(keyHead, raw); err != nil {
		return fmt.Errorf("audit: store head: %w", err)
	}
	return nil
}

func seqKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

// lastSeq decodes a record key; nil (no record) is 0, a malformed key ^0.
func lastSeq(k []byte) uint64 {
	switch len(k) {
	case 0:
		return 0
	case 8:
		return binary.BigEndian.Uint64(k)
	}
	return ^uint64(0)
}

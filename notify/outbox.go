package notify

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/mail"
	"regexp"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Channels.
const (
	ChannelEmail = "email"
	ChannelSMS   = "sms"
)

// Record statuses.
const (
	StatusPending = "pending"
	StatusSent    = "sent"
	StatusFailed  = "failed"
)

// Bucket names. BucketOutbox holds every record (id -> JSON Record);
// BucketPending indexes the pending ones (id -> channel) so the dispatcher
// and the pending gauge never walk the delivered history.
const (
	BucketOutbox  = "outbox"
	BucketPending = "outbox_pending"
)

// MaxAttachmentBytes bounds the attachments of one message together.
const MaxAttachmentBytes = 10 << 20

// Errors callers branch on.
var (
	ErrInvalidMessage = errors.New("notify: invalid message")
	ErrNotFound       = errors.New("notify: no such outbox message")
)

// Message is what a caller queues: one email or one SMS.
type Message struct {
	Channel     string       `json:"channel"` // ChannelEmail or ChannelSMS
	To          string       `json:"to"`      // RFC 5322 address, or E.164 number for SMS
	Subject     string       `json:"subject,omitempty"`
	Text        string       `json:"text"`
	HTML        string       `json:"html,omitempty"`
	Attachments []Attachment `json:"attachments,omitempty"`
	Kind        string       `json:"kind"` // template kind, for logs and metrics
	Lang        string       `json:"lang,omitempty"`
}

// Attachment is a file sent with an email.
type Attachment struct {
	Name        string `json:"name"`
	ContentType string `json:"content_type"`
	Data        []byte `json:"data"`
}

// Record is a Message as stored in the outbox, with its delivery state.
type Record struct {
	ID uint64 `json:"id"`
	Message
	// MessageID is the local part of the email Message-ID, fixed at
	// enqueue ("outbox-<id>.<random>"); the SMTP sender appends "@" and
	// the domain of its From address, so a resend carries the same id.
	MessageID   string    `json:"message_id"`
	Created     time.Time `json:"created"`
	Status      string    `json:"status"`
	Attempts    int       `json:"attempts"`
	NextAttempt time.Time `json:"next_attempt,omitzero"` // zero: due now
	LastError   string    `json:"last_error,omitempty"`
	Sent        time.Time `json:"sent,omitzero"`
}

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// Init creates the outbox buckets. It is idempotent.
func Init(tx *bolt.Tx) error {
	for _, name := range []string{BucketOutbox, BucketPending} {
		if _, err := tx.CreateBucketIfNotExists([]byte(name)); err != nil {
			return fmt.Errorf("notify: create bucket %s: %w", name, err)
		}
	}
	return nil
}

// Enqueue queues m inside the caller's write transaction, so the message
// exists if and only if the state change that caused it commits. Call the
// Dispatcher's Wake after the commit to send it without waiting.
func Enqueue(tx *bolt.Tx, m Message) (uint64, error) {
	if err := validate(m); err != nil {
		return 0, err
	}
	if err := Init(tx); err != nil {
		return 0, err
	}
	b := tx.Bucket([]byte(BucketOutbox))
	id, err := b.NextSequence()
	if err != nil {
		return 0, fmt.Errorf("notify: outbox sequence: %w", err)
	}
	if m.Kind == "" {
		m.Kind = "message"
	}
	r := Record{
		ID:        id,
		Message:   m,
		MessageID: fmt.Sprintf("outbox-%d.%s", id, rand.Text()),
		Created:   time.Now().UTC(),
		Status:    StatusPending,
	}
	if err := put(tx, r); err != nil {
		return 0, err
	}
	return id, nil
}

func validate(m Message) error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidMessage, fmt.Sprintf(format, a...))
	}
	if m.Text == "" {
		return bad("empty text")
	}
	switch m.Channel {
	case ChannelEmail:
		if _, err := mail.ParseAddress(m.To); err != nil {
			return bad("recipient is not an email address")
		}
		if m.Subject == "" {
			return bad("empty subject")
		}
		total := 0
		for _, a := range m.Attachments {
			if _, _, err := mime.ParseMediaType(a.ContentType); err != nil || a.Name == "" {
				return bad("attachment without name or valid content type")
			}
			total += len(a.Data)
		}
		if total > MaxAttachmentBytes {
			return bad("attachments larger than %d bytes", MaxAttachmentBytes)
		}
	case ChannelSMS:
		if !e164.MatchString(m.To) {
			return bad("recipient is not an E.164 phone number")
		}
		if m.HTML != "" || len(m.Attachments) > 0 {
			return bad("an SMS has neither HTML nor attachments")
		}
	default:
		return bad("unknown channel %q", m.Channel)
	}
	return nil
}

func key(id uint64) []byte {
	return binary.BigEndian.AppendUint64(nil, id)
}

// put writes r and keeps the pending index in step with its status.
func put(tx *bolt.Tx, r Record) error {
	out, pend := tx.Bucket([]byte(BucketOutbox)), tx.Bucket([]byte(BucketPending))
	if out == nil || pend == nil {
		return fmt.Errorf("notify: outbox buckets missing (Init not run)")
	}
	v, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("notify: encode outbox record %d: %w", r.ID, err)
	}
	if err := out.Put(key(r.ID), v); err != nil {
		return fmt.Errorf("notify: store outbox record %d: %w", r.ID, err)
	}
	if r.Status == StatusPending {
		err = pend.Put(key(r.ID), []byte(r.Channel))
	} else {
		err = pend.Delete(key(r.ID))
	}
	if err != nil {
		return fmt.Errorf("notify: pending index %d: %w", r.ID, err)
	}
	return nil
}

// Get reads one outbox record.
func Get(tx *bolt.Tx, id uint64) (Record, error) {
	b := tx.Bucket([]byte(BucketOutbox))
	if b == nil {
		return Record{}, fmt.Errorf("%w: %d", ErrNotFound, id)
	}
	v := b.Get(key(id))
	if v == nil {
		return Record{}, fmt.Errorf("%w: %d", ErrNotFound, id)
	}
	var r Record
	if err := json.Unmarshal(v, &r); err != nil {
		return Record{}, fmt.Errorf("notify: decode outbox record %d: %w", id, err)
	}
	return r, nil
}

// Each calls fn for every outbox record, oldest first, or newest first when
// reverse is set; fn returning an error stops the walk with that error.
func Each(tx *bolt.Tx, reverse bool, fn func(Record) error) error {
	b := tx.Bucket([]byte(BucketOutbox))
	if b == nil {
		return nil
	}
	c := b.Cursor()
	first, next := c.First, c.Next
	if reverse {
		first, next = c.Last, c.Prev
	}
	for k, v := first(); k != nil; k, v = next() {
		var r Record
		if err := json.Unmarshal(v, &r); err != nil {
			return fmt.Errorf("notify: decode outbox record %x: %w", k, err)
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

// Purge deletes sent and failed records created before the cutoff (a
// retention policy: sent messages hold personal data and OTP codes). Pending
// records are never purged. It returns how many records it deleted.
func Purge(tx *bolt.Tx, before time.Time) (int, error) {
	var ids []uint64
	err := Each(tx, false, func(r Record) error {
		if r.Status != StatusPending && r.Created.Before(before) {
			ids = append(ids, r.ID)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	b := tx.Bucket([]byte(BucketOutbox))
	for _, id := range ids {
		if err := b.Delete(key(id)); err != nil {
			return 0, fmt.Errorf("notify: purge outbox record %d: %w", id, err)
		}
	}
	return len(ids), nil
}

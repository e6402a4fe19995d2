package store

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

var (
	bucketApplicants   = []byte("applicants")
	bucketApplications = []byte("applications")
	bucketIndex        = []byte("index")
)

// Applicant is a registered person. Personal data (NIK, birth date, photos,
// signature specimen) is not here: it is in sealed blobs named in Blobs.
// Email and phone are indexed only by keyed hash.
type Applicant struct {
	ID             string            `json:"id"`
	Username       string            `json:"username"`
	Name           string            `json:"name"`
	Email          string            `json:"email"`
	Phone          string            `json:"phone"` // E.164
	PasswordHash   string            `json:"password_hash"`
	Blobs          map[string]string `json:"blobs"` // kind -> blob id
	ConsentVersion string            `json:"consent_version"`
	Created        time.Time         `json:"created"`
	Lang           string            `json:"lang,omitempty"`     // language of the emails ("id" or "en")
	NIKHash        []byte            `json:"nik_hash,omitempty"` // the keyed hash of the NIK index entry
}

// Application is an applicant's request for a certificate, moving through
// the states of DESIGN.md. Only enrollment's state machine writes it.
type Application struct {
	ID          string       `json:"id"`
	ApplicantID string       `json:"applicant_id"`
	State       string       `json:"state"`
	Updated     time.Time    `json:"updated"`
	History     []Transition `json:"history"`

	Invoice          *Invoice               `json:"invoice,omitempty"`
	PaymentProof     *Proof                 `json:"payment_proof,omitempty"`
	PaymentRejection string                 `json:"payment_rejection,omitempty"` // CS's reason, shown until the next proof
	ConfirmedBy      string                 `json:"confirmed_by,omitempty"`      // officer id of the CS who confirmed payment
	Approvals        []Approval             `json:"approvals,omitempty"`         // RA approvals of the current review
	Rejection        *Rejection             `json:"rejection,omitempty"`         // the last RA rejection
	Activation       *Activation            `json:"activation,omitempty"`
	Issuance         *Issuance              `json:"issuance,omitempty"`    // set once both OTPs and consents are in
	Certificate      *SubscriberCertificate `json:"certificate,omitempty"` // set at issued
	Revocation       *RevocationRequest     `json:"revocation,omitempty"`  // set when revocation is asked
}

// Issuance is the evidence of an activation and the binding of the
// subscriber's key: set in the transaction that consumed the phone OTP,
// before the key is generated, so a crash afterwards resumes the same
// issuance (same key label, same requester) instead of starting another.
type Issuance struct {
	KeyLabel  string            `json:"key_label"` // of the subscriber's key on the users token
	Requester string            `json:"requester"` // names the certificate request at the CA
	Consents  map[string]string `json:"consents"`  // consent -> accepted version
	Channels  []string          `json:"channels"`  // the OTP channels that confirmed it
	Started   time.Time         `json:"started"`
}

// SubscriberCertificate is the issued certificate of an application.
type SubscriberCertificate struct {
	Serial      string    `json:"serial"`
	Fingerprint string    `json:"fingerprint"` // SHA-256 of the DER, hex
	NotBefore   time.Time `json:"not_before"`
	NotAfter    time.Time `json:"not_after"`
}

// RevocationRequest is a subscriber's or officer's request to revoke, kept until
// the CA revoked and the key is destroyed.
type RevocationRequest struct {
	Reason    int       `json:"reason"` // RFC 5280 code
	Actor     string    `json:"actor"`
	Requested time.Time `json:"requested"`
}

// Invoice is the payment instruction CS issues.
type Invoice struct {
	Number         string    `json:"number"`
	Amount         int64     `json:"amount"` // in the currency's smallest unit (rupiah)
	Currency       string    `json:"currency"`
	BankName       string    `json:"bank_name"`
	AccountNumber  string    `json:"account_number"`
	AccountName    string    `json:"account_name"`
	VirtualAccount string    `json:"virtual_account"`
	Reference      string    `json:"reference"`
	Due            time.Time `json:"due"`
	IssuedBy       string    `json:"issued_by"`
	Issued         time.Time `json:"issued"`
}

// Proof is an uploaded payment proof: the sealed file is the blob BlobID.
type Proof struct {
	BlobID      string    `json:"blob_id"`
	ContentType string    `json:"content_type"`
	Size        int       `json:"size"`
	Uploaded    time.Time `json:"uploaded"`
}

// Approval is one RA officer's approval.
type Approval struct {
	Officer string    `json:"officer"`
	At      time.Time `json:"at"`
}

// Rejection is an RA decision against the application. Fields names what
// the applicant must correct when the rejection is correctable.
type Rejection struct {
	Reason      string    `json:"reason"`
	Fields      []string  `json:"fields,omitempty"`
	Correctable bool      `json:"correctable"`
	By          string    `json:"by"`
	At          time.Time `json:"at"`
}

// Activation is the pending activation link: only its hash is stored.
type Activation struct {
	TokenHash []byte    `json:"token_hash"`
	Expires   time.Time `json:"expires"`
	Used      bool      `json:"used,omitempty"`
}

// Transition is one state change of an application.
type Transition struct {
	From   string    `json:"from"`
	To     string    `json:"to"`
	Actor  string    `json:"actor"`
	Reason string    `json:"reason,omitempty"`
	At     time.Time `json:"at"`
}

// TakenError says which unique field is already registered, never by whom.
type TakenError struct{ Field string }

func (e *TakenError) Error() string { return e.Field + " is already registered" }

// UniqueKeys are the index entries an applicant claims: the username in
// clear, the others as keyed hashes (see Indexer).
type UniqueKeys struct {
	Username                      string
	EmailHash, PhoneHash, NIKHash []byte
	// Traits are non-unique keyed hashes (kind -> hash) recorded for
	// duplicate warnings (see AddDuplicateKey).
	Traits map[string][]byte
}

func (u UniqueKeys) entries() [][2]string {
	return [][2]string{
		{"username", "username:" + u.Username},
		{"email", "email:" + hex.EncodeToString(u.EmailHash)},
		{"phone", "phone:" + hex.EncodeToString(u.PhoneHash)},
		{"nik", "nik:" + hex.EncodeToString(u.NIKHash)},
	}
}

// CreateApplicant stores a new applicant, its first application, its
// sealed personal data and its unique index entries in one transaction.
// If any unique key is taken it fails with a *TakenError and stores
// nothing. Concurrent registrations share commits (see groupCommitter):
// every check comes before the first write.
func (db *DB) CreateApplicant(a Applicant, keys UniqueKeys, app Application, blobs map[string]Envelope) error {
	return db.group.update(func(tx *bolt.Tx) error {
		idx := tx.Bucket(bucketIndex)
		for _, e := range keys.entries() {
			if idx.Get([]byte(e[1])) != nil {
				return &TakenError{Field: e[0]}
			}
		}
		if tx.Bucket(bucketApplicants).Get([]byte(a.ID)) != nil {
			return fmt.Errorf("applicant id %s: %w", a.ID, ErrSerialExists)
		}
		for kind, e := range blobs {
			if a.Blobs[kind] == "" {
				return fmt.Errorf("blob %q has no id in the applicant record", kind)
			}
			if err := PutBlob(tx, a.Blobs[kind], e); err != nil {
				return err
			}
		}
		for _, e := range keys.entries() {
			if err := idx.Put([]byte(e[1]), []byte(a.ID)); err != nil {
				return err
			}
		}
		for kind, h := range keys.Traits {
			if err := AddDuplicateKey(tx, kind, h, a.ID); err != nil {
				return err
			}
		}
		if err := putJSON(tx.Bucket(bucketApplicants), a.ID, a); err != nil {
			return err
		}
		// One application per applicant (DESIGN.md): keyed by the applicant.
		return PutApplication(tx, app)
	})
}

// ApplicantByIndex finds the applicant that claimed an index entry:
// kind "username" with the username, or "email" with its keyed hash.
func (db *DB) ApplicantByIndex(kind string, value []byte) (Applicant, error) {
	key := kind + ":" + string(value)
	if kind != "username" {
		key = kind + ":" + hex.EncodeToString(value)
	}
	var a Applicant
	err := db.View(func(tx *bolt.Tx) error {
		id := tx.Bucket(bucketIndex).Get([]byte(key))
		if id == nil {
			return ErrNotFound
		}
		raw := tx.Bucket(bucketApplicants).Get(id)
		if raw == nil {
			return fmt.Errorf("index %s points at a missing applicant: %w", kind, ErrNotFound)
		}
		return json.Unmarshal(raw, &a)
	})
	return a, err
}

// ApplicationOf returns the application of applicant id.
func (db *DB) ApplicationOf(applicantID string) (Application, error) {
	var app Application
	err := db.View(func(tx *bolt.Tx) error {
		raw := tx.Bucket(bucketApplications).Get([]byte(applicantID))
		if raw == nil {
			return fmt.Errorf("application of %s: %w", applicantID, ErrNotFound)
		}
		return json.Unmarshal(raw, &app)
	})
	return app, err
}

func putJSON(b *bolt.Bucket, key string, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put([]byte(key), raw)
}

package enrollment

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/mail"
	"runtime"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/psre/appliance/enrollment/identity"
	"github.com/psre/appliance/enrollment/throttle"
	"github.com/psre/appliance/store"
)

// StateRegistered is the first state of an application (DESIGN.md).
const StateRegistered = "registered"

// MaxImageBytes bounds a sealed image. Uploads are at most 5 MB and 16 MP
// (enrollment/upload), but a re-encoded photo can come out larger than it
// went in.
const MaxImageBytes = 16 << 20

// Registration is what "Simpan Data" submits, already decoded: images are
// checked and re-encoded by the upload handlers before they get here.
type Registration struct {
	NIK            string
	Name           string
	BirthDate      time.Time
	Username       string
	Password       string
	Email          string
	Phone          string
	KTPPhoto       []byte // JPEG
	Selfie         []byte // JPEG
	Specimen       []byte // PNG
	ConsentVersion string
	Lang           string // language of the applicant's emails: "id" (default) or "en"
}

// FieldError says which field of a registration is wrong, with the message
// key of the catalogs. It never holds the value.
type FieldError struct {
	Field string
	Key   string
	Err   error
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }

// Service registers applicants and answers logins.
type Service struct {
	db       *store.DB
	kek      store.Wrapper
	index    *store.Indexer
	random   io.Reader
	now      func() time.Time
	log      *slog.Logger
	throttle *throttle.Limiter
	hashing  chan struct{} // bounds concurrent argon2id computations
	wf       *WorkflowConfig
	act      *activation
	signer   DocumentSigner
}

// NewService wires the service. kek is the HSM KEK (hsm.KEK).
func NewService(db *store.DB, kek store.Wrapper, log *slog.Logger) (*Service, error) {
	index, err := db.IndexKey(kek, rand.Reader)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	return &Service{db: db, kek: kek, index: index, random: rand.Reader, now: time.Now, log: log,
		throttle: throttle.New(throttle.DefaultPolicy(), nil), hashing: make(chan struct{}, runtime.GOMAXPROCS(0))}, nil
}

func fieldErr(field string, err error) error {
	key := identity.MessageKey(err)
	if key == "" {
		key = field + ".invalid"
	}
	return &FieldError{Field: field, Key: key, Err: err}
}

// Register checks r, seals the personal data and stores the applicant with
// a new application in state registered, all in one transaction. A unique
// field that is taken fails with a *store.TakenError naming the field only.
func (s *Service) Register(ctx context.Context, r Registration) (string, error) {
	if _, err := identity.ParseNIK(r.NIK, r.BirthDate, s.now()); err != nil {
		return "", fieldErr("nik", err)
	}
	name, err := CheckName(r.Name)
	if err != nil {
		return "", &FieldError{Field: "name", Key: "name.invalid", Err: err}
	}
	username, err := identity.CheckUsername(r.Username)
	if err != nil {
		return "", fieldErr("username", err)
	}
	if err := identity.CheckPassword(r.Password, username, r.NIK, r.BirthDate); err != nil {
		return "", fieldErr("password", err)
	}
	email, err := NormalizeEmail(r.Email)
	if err != nil {
		return "", fieldErr("email", err)
	}
	phone, err := identity.NormalizePhone(r.Phone)
	if err != nil {
		return "", fieldErr("phone", err)
	}
	for field, img := range map[string][]byte{"ktp_photo": r.KTPPhoto, "selfie": r.Selfie, "specimen": r.Specimen} {
		if len(img) == 0 || len(img) > MaxImageBytes {
			return "", &FieldError{Field: field, Key: "upload.size", Err: fmt.Errorf("missing or larger than %d bytes", MaxImageBytes)}
		}
	}
	if r.ConsentVersion == "" {
		return "", &FieldError{Field: "consent", Key: "consent.required", Err: errors.New("the privacy policy was not accepted")}
	}
	if err := s.acquireHashing(ctx); err != nil {
		return "", err
	}
	hash, err := HashPassword(r.Password)
	s.releaseHashing()
	if err != nil {
		return "", err
	}
	id, err := s.newID()
	if err != nil {
		return "", err
	}
	personal := map[string][]byte{
		"nik": []byte(r.NIK), "birth_date": []byte(r.BirthDate.Format("2006-01-02")),
		"ktp_photo": r.KTPPhoto, "selfie": r.Selfie, "specimen": r.Specimen,
	}
	blobs := make(map[string]store.Envelope, len(personal))
	ids := make(map[string]string, len(personal))
	for kind, data := range personal {
		ids[kind] = "applicant/" + id + "/" + kind
		env, err := store.Seal(s.kek, s.random, data, []byte(ids[kind]))
		if err != nil {
			return "", fmt.Errorf("seal %s: %w", kind, err)
		}
		blobs[kind] = env
	}
	now := s.now().UTC()
	lang := "id"
	if r.Lang == "en" {
		lang = "en"
	}
	nikHash := s.index.Hash("nik", r.NIK)
	a := store.Applicant{ID: id, Username: username, Name: name, Email: email, Phone: phone, PasswordHash: hash,
		Blobs: ids, ConsentVersion: r.ConsentVersion, Created: now, Lang: lang, NIKHash: nikHash}
	keys := store.UniqueKeys{Username: username, EmailHash: s.index.Hash("email", email),
		PhoneHash: s.index.Hash("phone", phone), NIKHash: nikHash, Traits: s.traits(name, r.BirthDate, r.KTPPhoto)}
	app := store.Application{ID: id, ApplicantID: id, State: StateRegistered, Updated: now,
		History: []store.Transition{{To: StateRegistered, Actor: "applicant", At: now}}}
	if err := s.db.CreateApplicant(a, keys, app, blobs); err != nil {
		return "", err
	}
	s.log.InfoContext(ctx, "applicant registered", "applicant", id)
	return id, nil
}

// CheckName collapses the spaces of a name as on the KTP and checks that it
// is not empty and at most 100 characters.
func CheckName(s string) (string, error) {
	name := strings.Join(strings.Fields(s), " ")
	if name == "" || utf8.RuneCountInString(name) > 100 {
		return "", errors.New("the name is empty or longer than 100 characters")
	}
	return name, nil
}

// NormalizeEmail lower-cases and checks a plain e-mail address (no display
// name, at most 254 characters): the rule Register applies.
func NormalizeEmail(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || len(s) > 254 {
		return "", errors.New("not a plain e-mail address")
	}
	return s, nil
}

func (s *Service) newID() (string, error) {
	b := make([]byte, 16)
	if _, err := io.ReadFull(s.random, b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// ErrLogin is the one answer to a failed login: it never says whether the
// account exists.
var ErrLogin = errors.New("username, email or password is wrong")

// ThrottledError means too many failed logins: try again after Wait.
type ThrottledError struct {
	Wait   time.Duration
	Locked bool
}

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("too many failed logins: try again in %s", e.Wait.Round(time.Second))
}

// Authenticate checks a login by username or email and password, from the
// client address addr. Unknown accounts cost the same password hashing as
// known ones. After repeated failures, per account and per address, it
// refuses with a *ThrottledError before checking anything.
func (s *Service) Authenticate(ctx context.Context, login, password, addr string) (store.Applicant, error) {
	login = strings.ToLower(strings.TrimSpace(login))
	keys := []string{"account:" + hex.EncodeToString(s.index.Hash("login", login)), "address:" + addressKey(addr)}
	// Reserve counts the attempt as failed before the password is checked,
	// so a burst of simultaneous guesses cannot all pass the throttle.
	for i, k := range keys {
		wait, err := s.throttle.Reserve(k)
		if wait > 0 {
			for _, done := range keys[:i] {
				s.throttle.Release(done)
			}
			return store.Applicant{}, &ThrottledError{Wait: wait, Locked: errors.Is(err, throttle.ErrLocked)}
		}
	}
	if err := s.acquireHashing(ctx); err != nil {
		for _, k := range keys {
			s.throttle.Release(k)
		}
		return store.Applicant{}, err
	}
	a, err := s.authenticate(login, password)
	s.releaseHashing()
	switch {
	case errors.Is(err, ErrLogin):
		// already counted
	case err == nil:
		s.throttle.Success(keys[0])
		s.throttle.Release(keys[1])
	default:
		for _, k := range keys {
			s.throttle.Release(k)
		}
	}
	return a, err
}

// addressKey is the throttling key of a client address: an IPv6 client
// controls its whole /64, so that is one key.
func addressKey(addr string) string {
	ip := net.ParseIP(addr)
	if ip == nil || ip.To4() != nil {
		return addr
	}
	return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
}

// acquireHashing waits for one of the argon2id slots: each hash holds 46
// MiB, so their number is bounded by the cores, not by the requests.
func (s *Service) acquireHashing(ctx context.Context) error {
	select {
	case s.hashing <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Service) releaseHashing() { <-s.hashing }

func (s *Service) authenticate(login, password string) (store.Applicant, error) {
	var a store.Applicant
	var err error
	if strings.Contains(login, "@") {
		a, err = s.db.ApplicantByIndex("email", s.index.Hash("email", login))
	} else {
		a, err = s.db.ApplicantByIndex("username", []byte(login))
	}
	if errors.Is(err, store.ErrNotFound) {
		_, _ = VerifyPassword(dummyHash, password) // same cost as a real check
		return store.Applicant{}, ErrLogin
	}
	if err != nil {
		return store.Applicant{}, err
	}
	ok, err := VerifyPassword(a.PasswordHash, password)
	if err != nil {
		return store.Applicant{}, err
	}
	if !ok {
		return store.Applicant{}, ErrLogin
	}
	return a, nil
}

// dummyHash is verified for unknown accounts, so that timing does not tell
// whether an account exists.
const dummyHash = "$argon2id$v=19$m=47104,t=1,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

// Personal opens one kind of an applicant's sealed personal data.
func (s *Service) Personal(a store.Applicant, kind string) ([]byte, error) {
	id, ok := a.Blobs[kind]
	if !ok {
		return nil, fmt.Errorf("no %s for applicant %s: %w", kind, a.ID, store.ErrNotFound)
	}
	env, err := s.db.Blob(id)
	if err != nil {
		return nil, err
	}
	return env.Open(s.kek, []byte(id))
}

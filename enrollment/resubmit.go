package enrollment

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/psre/appliance/enrollment/identity"
	"github.com/psre/appliance/store"
)

// Corrections are an applicant's answers to a correctable rejection. Only
// the fields the RA named may be set, and each of them must be.
type Corrections struct {
	Name      string
	NIK       string
	BirthDate time.Time
	KTPPhoto  []byte // cleaned JPEG
	Selfie    []byte // cleaned JPEG
	Specimen  []byte // cleaned PNG
}

func (c Corrections) given() []string {
	var f []string
	for name, set := range map[string]bool{
		"name": c.Name != "", "nik": c.NIK != "", "birth_date": !c.BirthDate.IsZero(),
		"ktp_photo": len(c.KTPPhoto) > 0, "selfie": len(c.Selfie) > 0, "specimen": len(c.Specimen) > 0,
	} {
		if set {
			f = append(f, name)
		}
	}
	sort.Strings(f)
	return f
}

// ErrCorrectionFields means the corrections do not match the fields the RA
// named.
var ErrCorrectionFields = errors.New("correct exactly the fields the RA named")

// Resubmit applies an applicant's corrections after a correctable
// rejection and sends the application back to RA review.
func (s *Service) Resubmit(ctx context.Context, applicantID string, c Corrections) (store.Application, error) {
	app, err := s.db.ApplicationOf(applicantID)
	if err != nil {
		return store.Application{}, err
	}
	if app.State != StateRejectedCorrectable || app.Rejection == nil {
		return store.Application{}, &StateError{Action: "application.resubmit", State: app.State}
	}
	if !slices.Equal(c.given(), app.Rejection.Fields) {
		return store.Application{}, fmt.Errorf("%w: %s", ErrCorrectionFields, strings.Join(app.Rejection.Fields, ", "))
	}
	a, err := s.db.Applicant(applicantID)
	if err != nil {
		return store.Application{}, err
	}
	// The NIK and the birth date are checked together, with the stored
	// value of whichever is not corrected.
	nik, birth := c.NIK, c.BirthDate
	if nik == "" || birth.IsZero() {
		storedNIK, err := s.Personal(a, "nik")
		if err != nil {
			return store.Application{}, err
		}
		storedBirth, err := s.Personal(a, "birth_date")
		if err != nil {
			return store.Application{}, err
		}
		if nik == "" {
			nik = string(storedNIK)
		}
		if birth.IsZero() {
			if birth, err = time.Parse("2006-01-02", string(storedBirth)); err != nil {
				return store.Application{}, fmt.Errorf("stored birth date: %w", err)
			}
		}
	}
	if c.NIK != "" || !c.BirthDate.IsZero() {
		if _, err := identity.ParseNIK(nik, birth, s.now()); err != nil {
			return store.Application{}, fieldErr("nik", err)
		}
	}
	name := a.Name
	if c.Name != "" {
		if name, err = CheckName(c.Name); err != nil {
			return store.Application{}, &FieldError{Field: "name", Key: "name.invalid", Err: err}
		}
	}
	sealed := map[string][]byte{}
	if c.NIK != "" {
		sealed["nik"] = []byte(c.NIK)
	}
	if !c.BirthDate.IsZero() {
		sealed["birth_date"] = []byte(c.BirthDate.Format("2006-01-02"))
	}
	for kind, img := range map[string][]byte{"ktp_photo": c.KTPPhoto, "selfie": c.Selfie, "specimen": c.Specimen} {
		if len(img) > MaxImageBytes {
			return store.Application{}, &FieldError{Field: kind, Key: "upload.size", Err: errors.New("too large")}
		}
		if len(img) > 0 {
			sealed[kind] = img
		}
	}
	ktp := c.KTPPhoto
	if ktp == nil {
		if ktp, err = s.Personal(a, "ktp_photo"); err != nil {
			return store.Application{}, err
		}
	}
	oldKTP, err := s.Personal(a, "ktp_photo")
	if err != nil {
		return store.Application{}, err
	}
	oldBirth, err := s.Personal(a, "birth_date")
	if err != nil {
		return store.Application{}, err
	}
	oldBirthDate, _ := time.Parse("2006-01-02", string(oldBirth))
	oldTraits, newTraits := s.traits(a.Name, oldBirthDate, oldKTP), s.traits(name, birth, ktp)
	version := s.now().UTC().Format("20060102T150405.000000000")
	return s.transition(ctx, applicantID, step{
		action: "application.resubmit", from: []string{StateRejectedCorrectable}, to: StateRAReview,
		actor: Applicant(applicantID),
		change: func(tx *bolt.Tx, ch *change) error {
			if !slices.Equal(ch.app.Rejection.Fields, app.Rejection.Fields) {
				return fmt.Errorf("%w: the rejection changed meanwhile", ErrCorrectionFields)
			}
			if c.NIK != "" {
				h := s.index.Hash("nik", c.NIK)
				if err := store.ReplaceUnique(tx, "nik", applicantID, ch.applicant.NIKHash, h); err != nil {
					return err
				}
				ch.applicant.NIKHash = h
			}
			for kind, data := range sealed {
				id := "applicant/" + applicantID + "/" + kind + "/" + version
				env, err := store.Seal(s.kek, s.random, data, []byte(id))
				if err != nil {
					return fmt.Errorf("seal %s: %w", kind, err)
				}
				if err := store.PutBlob(tx, id, env); err != nil {
					return err
				}
				ch.applicant.Blobs[kind] = id
			}
			for trait, h := range oldTraits {
				if err := store.RemoveDuplicateKey(tx, trait, h, applicantID); err != nil {
					return err
				}
			}
			for trait, h := range newTraits {
				if err := store.AddDuplicateKey(tx, trait, h, applicantID); err != nil {
					return err
				}
			}
			ch.applicant.Name = name
			ch.applicantChanged = true
			ch.app.Approvals = nil
			ch.details["fields"] = strings.Join(app.Rejection.Fields, ",")
			return nil
		},
	})
}

package enrollment

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/psre/appliance/enrollment/identity"
	"github.com/psre/appliance/store"
)

// ReviewFile is what an RA officer sees of an application: the entered
// data, opened from its sealed blobs, beside what the NIK itself says, and
// warnings about other applicants who look like the same person.
type ReviewFile struct {
	Application store.Application
	Name        string
	Username    string
	Email       string
	Phone       string
	NIK         string
	BirthDate   time.Time
	FromNIK     NIKFacts
	Duplicates  []Duplicate
}

// NIKFacts is what the NIK's digits say, and whether they agree with the
// entered birth date.
type NIKFacts struct {
	Province  string // name, e.g. "Jawa Barat"
	Regency   string // code within the province
	District  string // code within the regency
	BirthDate time.Time
	Female    bool
	Problem   string // empty when the NIK agrees with the entered data
}

// Duplicate is another application sharing a trait with this one.
type Duplicate struct {
	Trait         string // "name_birth" or "ktp_photo"
	ApplicationID string
	State         string
}

// ReviewFile opens application appID for an RA officer. Every opening of
// personal data is audited.
func (s *Service) ReviewFile(ctx context.Context, officer Actor, appID string) (ReviewFile, error) {
	app, a, err := s.officerRead(officer, appID, store.RoleRA)
	if err != nil {
		return ReviewFile{}, err
	}
	f := ReviewFile{Application: app, Name: a.Name, Username: a.Username, Email: a.Email, Phone: a.Phone}
	nik, err := s.Personal(a, "nik")
	if err != nil {
		return ReviewFile{}, err
	}
	birth, err := s.Personal(a, "birth_date")
	if err != nil {
		return ReviewFile{}, err
	}
	f.NIK = string(nik)
	if f.BirthDate, err = time.Parse("2006-01-02", string(birth)); err != nil {
		return ReviewFile{}, fmt.Errorf("stored birth date: %w", err)
	}
	if n, err := identity.ParseNIK(f.NIK, f.BirthDate, s.now()); err != nil {
		f.FromNIK.Problem = err.Error()
	} else {
		province, _ := identity.ProvinceName(n.Province)
		f.FromNIK = NIKFacts{Province: province, Regency: n.Regency, District: n.District,
			BirthDate: n.BirthDate, Female: n.Female}
	}
	ktp, err := s.Personal(a, "ktp_photo")
	if err != nil {
		return ReviewFile{}, err
	}
	err = s.audited(ctx, officer, "application.open_personal_data", app.ID, map[string]string{"what": "review_file"}, func(tx *bolt.Tx) error {
		for trait, h := range s.traits(a.Name, f.BirthDate, ktp) {
			for _, other := range store.DuplicatesOf(tx, trait, h, a.ID) {
				oa, err := store.GetApplication(tx, other)
				if err != nil {
					return err
				}
				f.Duplicates = append(f.Duplicates, Duplicate{Trait: trait, ApplicationID: other, State: oa.State})
			}
		}
		return nil
	})
	slices.SortFunc(f.Duplicates, func(x, y Duplicate) int {
		return cmp.Or(cmp.Compare(x.Trait, y.Trait), cmp.Compare(x.ApplicationID, y.ApplicationID))
	})
	return f, err
}

// ReviewImage opens one of an application's images (ktp_photo, selfie,
// specimen) for an RA officer; the opening is audited.
func (s *Service) ReviewImage(ctx context.Context, officer Actor, appID, kind string) ([]byte, error) {
	if kind != "ktp_photo" && kind != "selfie" && kind != "specimen" {
		return nil, fmt.Errorf("image %q: %w", kind, store.ErrNotFound)
	}
	_, a, err := s.officerRead(officer, appID, store.RoleRA)
	if err != nil {
		return nil, err
	}
	data, err := s.Personal(a, kind)
	if err != nil {
		return nil, err
	}
	return data, s.audited(ctx, officer, "application.open_personal_data", appID, map[string]string{"what": kind}, nil)
}

// audited runs fn in a write transaction that also appends an audit entry
// for actor's action on application appID.
func (s *Service) audited(ctx context.Context, actor Actor, action, appID string, details map[string]string, fn func(*bolt.Tx) error) error {
	if s.wf == nil {
		return ErrNoWorkflow
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		if fn != nil {
			if err := fn(tx); err != nil {
				return err
			}
		}
		return s.wf.Effects.Audit(tx, AuditEntry{Actor: actor.String(), Action: action, Object: "application/" + appID, Details: details})
	})
	if err != nil {
		return fmt.Errorf("%s: %w", action, err)
	}
	s.log.InfoContext(ctx, "personal data opened", "application", appID, "actor", actor.String(), "action", action)
	return nil
}

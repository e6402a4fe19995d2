package enrollment_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/psre/appliance/enrollment"
	"github.com/psre/appliance/store"
)

// activationToken returns the token of the last activation link emailed
// to address to.
func (f *flow) activationToken(to string) string {
	f.t.Helper()
	var link string
	for _, n := range readJSON[enrollment.Notification](f.t, f.db, "test_outbox") {
		if n.Kind == "approved" && n.To == to {
			link, _ = n.Data["ActivationURL"].(string)
		}
	}
	_, token, ok := strings.Cut(link, "/aktivasi?token=")
	if !ok || token == "" {
		f.t.Fatalf("no activation link emailed to %s", to)
	}
	return token
}

func TestCheckActivation(t *testing.T) {
	f := newFlow(t, 1)
	now := time.Now()
	enrollment.SetClock(f.s, func() time.Time { return now })
	cs, ra := f.officer("Citra CS", store.RoleCS, ""), f.officer("Rudi RA", store.RoleRA, "")
	a := f.register(budi())
	other := budi()
	other.NIK, other.Username, other.Email, other.Phone = "3171015508900002", "siti.aminah", "siti@example.co.id", "081298765432"
	other.Name, other.BirthDate = "Siti Aminah", time.Date(1990, 8, 15, 0, 0, 0, 0, time.UTC)
	b := f.register(other)
	third := budi()
	third.NIK, third.Username, third.Email, third.Phone = "3171011208900003", "budi.tiga", "tiga@example.co.id", "081277776666"
	c := f.register(third)
	for _, id := range []string{a, b} {
		f.toReview(id, cs)
		f.must(f.s.Approve(f.ctx, ra, id))
	}
	f.toReview(c, cs) // stays in ra_review
	tokenA, tokenB := f.activationToken("budi@example.co.id"), f.activationToken("siti@example.co.id")
	app, _ := f.db.ApplicationOf(a)
	expires := app.Activation.Expires

	setUsed := func(id string, used bool) {
		err := f.db.Update(func(tx *bolt.Tx) error {
			app, err := store.GetApplication(tx, id)
			if err != nil {
				return err
			}
			app.Activation.Used = used
			return store.PutApplication(tx, app)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	var stateErr *enrollment.StateError
	cases := []struct {
		name      string
		applicant string
		token     string
		at        time.Time
		used      bool
		want      error
		wantState string
	}{
		{"valid", a, tokenA, now, false, nil, ""},
		{"valid just before expiry", a, tokenA, expires.Add(-time.Second), false, nil, ""},
		{"wrong token", a, otherToken(tokenA), now, false, enrollment.ErrActivationInvalid, ""},
		{"empty token", a, "", now, false, enrollment.ErrActivationInvalid, ""},
		{"other account's token", a, tokenB, now, false, enrollment.ErrActivationInvalid, ""},
		{"my token opened by another account", b, tokenA, now, false, enrollment.ErrActivationInvalid, ""},
		{"expired", a, tokenA, expires, false, enrollment.ErrActivationExpired, ""},
		{"other account's token after my link expired", a, tokenB, expires.Add(time.Hour), false, enrollment.ErrActivationInvalid, ""},
		{"used", a, tokenA, now, true, enrollment.ErrActivationUsed, ""},
		{"other account's token after my link was used", a, tokenB, now, true, enrollment.ErrActivationInvalid, ""},
		{"wrong state", c, tokenA, now, false, nil, enrollment.StateRAReview},
		{"unknown applicant", "00000000000000000000000000000000", tokenA, now, false, enrollment.ErrActivationInvalid, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			setUsed(a, tc.used)
			defer setUsed(a, false)
			at := tc.at
			enrollment.SetClock(f.s, func() time.Time { return at })
			before := f.snapshot(a) + f.snapshot(b) + f.snapshot(c)
			got, err := f.s.CheckActivation(f.ctx, tc.applicant, tc.token)
			switch {
			case tc.wantState != "":
				if !errors.As(err, &stateErr) || stateErr.State != tc.wantState {
					t.Fatalf("got %v, want a StateError in %s", err, tc.wantState)
				}
			case tc.want != nil:
				if !errors.Is(err, tc.want) {
					t.Fatalf("got %v, want %v", err, tc.want)
				}
			default:
				if err != nil || got.ApplicantID != tc.applicant || got.State != enrollment.StateActivationPending {
					t.Fatalf("got %+v, %v", got, err)
				}
			}
			if after := f.snapshot(a) + f.snapshot(b) + f.snapshot(c); after != before {
				t.Fatal("CheckActivation changed the store")
			}
		})
	}
}

// otherToken changes the last character of token.
func otherToken(token string) string {
	last := "x"
	if strings.HasSuffix(token, last) {
		last = "y"
	}
	return token[:len(token)-1] + last
}

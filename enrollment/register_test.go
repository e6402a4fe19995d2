package enrollment_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/psre/appliance/enrollment"
	"github.com/psre/appliance/enrollment/identity"
	"github.com/psre/appliance/hsm/hsmtest"
	"github.com/psre/appliance/store"
)

func newService(t *testing.T) (*enrollment.Service, *store.DB, string) {
	t.Helper()
	env := hsmtest.New(t)
	tok := env.Token(t, "ca")
	ctx := context.Background()
	uri, err := tok.GenerateSecretKey(ctx, "kek")
	if err != nil {
		t.Fatal(err)
	}
	kek, err := tok.KEK(ctx, uri)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "appliance.db")
	db, err := store.Open(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s, err := enrollment.NewService(db, kek, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s, db, path
}

// budi is a valid registration: NIK of a man born 12 Aug 1990 in Jakarta.
func budi() enrollment.Registration {
	return enrollment.Registration{
		NIK: "3171011208900001", Name: "Budi  Santoso", BirthDate: time.Date(1990, 8, 12, 0, 0, 0, 0, time.UTC),
		Username: "budi.santoso", Password: "kuda-lari-di-pantai", Email: "Budi@Example.co.id", Phone: "0812-3456-7890",
		KTPPhoto: bytes.Repeat([]byte("KTPJPEG!"), 1000), Selfie: bytes.Repeat([]byte("SELFIE!!"), 1000),
		Specimen: bytes.Repeat([]byte("SPECIMEN"), 100), ConsentVersion: "privacy-v1",
	}
}

func TestRegisterAndLogin(t *testing.T) {
	s, db, path := newService(t)
	ctx := context.Background()
	id, err := s.Register(ctx, budi())
	if err != nil {
		t.Fatal(err)
	}
	app, err := db.ApplicationOf(id)
	if err != nil || app.State != enrollment.StateRegistered {
		t.Fatalf("application %+v, %v", app, err)
	}
	for _, login := range []string{"budi.santoso", "BUDI@example.co.id"} {
		a, err := s.Authenticate(ctx, login, "kuda-lari-di-pantai", "192.0.2.1")
		if err != nil || a.ID != id || a.Name != "Budi Santoso" || a.Phone != "+6281234567890" {
			t.Fatalf("login %q: %+v, %v", login, a, err)
		}
	}
	for _, bad := range [][2]string{{"budi.santoso", "wrong-password-123"}, {"nobody", "kuda-lari-di-pantai"}, {"x@example.co.id", "kuda-lari-di-pantai"}} {
		if _, err := s.Authenticate(ctx, bad[0], bad[1], "192.0.2.2"); !errors.Is(err, enrollment.ErrLogin) {
			t.Fatalf("login %q: %v, want ErrLogin", bad[0], err)
		}
	}
	a, _ := s.Authenticate(ctx, "budi.santoso", "kuda-lari-di-pantai", "192.0.2.1")
	nik, err := s.Personal(a, "nik")
	if err != nil || string(nik) != "3171011208900001" {
		t.Fatalf("sealed NIK: %q, %v", nik, err)
	}
	db.Close()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"3171011208900001", "1990-08-12", "KTPJPEG!", "SELFIE!!", "SPECIMEN", "kuda-lari"} {
		if bytes.Contains(raw, []byte(secret)) {
			t.Errorf("the database file holds %q in clear", secret)
		}
	}
}

func TestRegisterRefusesTakenAndInvalid(t *testing.T) {
	s, _, _ := newService(t)
	ctx := context.Background()
	if _, err := s.Register(ctx, budi()); err != nil {
		t.Fatal(err)
	}
	taken := map[string]func(*enrollment.Registration){
		"username": func(r *enrollment.Registration) {
			r.Email, r.Phone, r.NIK = "other@example.co.id", "081300000000", "3171011208900002"
		},
		"email": func(r *enrollment.Registration) {
			r.Username, r.Phone, r.NIK = "other", "081300000000", "3171011208900002"
		},
		"phone": func(r *enrollment.Registration) {
			r.Username, r.Email, r.NIK = "other", "other@example.co.id", "3171011208900002"
		},
		"nik": func(r *enrollment.Registration) {
			r.Username, r.Email, r.Phone = "other", "other@example.co.id", "081300000000"
		},
	}
	for field, change := range taken {
		r := budi()
		change(&r)
		_, err := s.Register(ctx, r)
		var te *store.TakenError
		if !errors.As(err, &te) || te.Field != field {
			t.Errorf("%s taken: got %v", field, err)
		}
		if err != nil && bytes.Contains([]byte(err.Error()), []byte("budi")) {
			t.Errorf("%s taken: the error names the owner: %v", field, err)
		}
	}
	invalid := map[string]func(*enrollment.Registration){
		"nik":       func(r *enrollment.Registration) { r.NIK = "3171011308900001" }, // birth date mismatch
		"username":  func(r *enrollment.Registration) { r.Username = "a" },
		"password":  func(r *enrollment.Registration) { r.Password = "fresh-and-long-pw" }, // contains the username
		"email":     func(r *enrollment.Registration) { r.Email = "not an email" },
		"phone":     func(r *enrollment.Registration) { r.Phone = "021-5551234" },
		"selfie":    func(r *enrollment.Registration) { r.Selfie = nil },
		"consent":   func(r *enrollment.Registration) { r.ConsentVersion = "" },
		"name":      func(r *enrollment.Registration) { r.Name = "   " },
		"ktp_photo": func(r *enrollment.Registration) { r.KTPPhoto = make([]byte, enrollment.MaxImageBytes+1) },
	}
	for field, change := range invalid {
		r := budi()
		r.Username, r.Email, r.Phone, r.NIK = "fresh", "fresh@example.co.id", "081377777777", "3171011208900003"
		change(&r)
		_, err := s.Register(ctx, r)
		var fe *enrollment.FieldError
		if !errors.As(err, &fe) || fe.Field != field || fe.Key == "" {
			t.Errorf("invalid %s: got %v", field, err)
		}
	}
	if _, err := s.Register(ctx, budi()); err == nil {
		t.Fatal("the same registration twice")
	}
	_ = identity.MessageKey
}

func TestPasswordHash(t *testing.T) {
	h, err := enrollment.HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	for pw, want := range map[string]bool{"correct horse battery": true, "correct horse batterz": false, "": false} {
		if ok, err := enrollment.VerifyPassword(h, pw); err != nil || ok != want {
			t.Errorf("%q: %v, %v", pw, ok, err)
		}
	}
	for _, bad := range []string{"", "$argon2i$v=19$m=1,t=1,p=1$AA$AA", "$argon2id$v=19$m=99999999,t=1,p=1$AAAA$AAAA", "plain"} {
		if _, err := enrollment.VerifyPassword(bad, "x"); err == nil {
			t.Errorf("%q accepted as a hash", bad)
		}
	}
}

// TestLoginThrottling: after the free failures an account answers with a
// wait, even for the right password, and other accounts from other
// addresses are unaffected.
func TestLoginThrottling(t *testing.T) {
	s, _, _ := newService(t)
	ctx := context.Background()
	if _, err := s.Register(ctx, budi()); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 4; i++ {
		if _, err := s.Authenticate(ctx, "budi.santoso", "wrong-password-123", "198.51.100.7"); !errors.Is(err, enrollment.ErrLogin) {
			t.Fatalf("failure %d: %v", i, err)
		}
	}
	_, err := s.Authenticate(ctx, "budi.santoso", "kuda-lari-di-pantai", "203.0.113.9")
	var te *enrollment.ThrottledError
	if !errors.As(err, &te) || te.Wait <= 0 {
		t.Fatalf("after four failures: %v, want a wait", err)
	}
	if _, err := s.Authenticate(ctx, "nobody", "whatever-1234", "198.51.100.7"); !errors.As(err, &te) {
		t.Fatalf("the same address, another account: %v, want a wait", err)
	}
	if _, err := s.Authenticate(ctx, "nobody", "whatever-1234", "203.0.113.10"); !errors.Is(err, enrollment.ErrLogin) {
		t.Fatalf("another address and account: %v, want the plain login error", err)
	}
}

// TestLoginBurst: forty wrong passwords at the same moment reach the
// password check only as often as the throttle allows, and they do not
// lock the account.
func TestLoginBurst(t *testing.T) {
	s, _, _ := newService(t)
	ctx := context.Background()
	if _, err := s.Register(ctx, budi()); err != nil {
		t.Fatal(err)
	}
	// A stopped clock: no wait of the throttle runs out during the burst,
	// however slow the machine.
	frozen := time.Now()
	enrollment.SetClock(s, func() time.Time { return frozen })
	results := make(chan error, 40)
	for i := 0; i < 40; i++ {
		go func() {
			_, err := s.Authenticate(ctx, "budi.santoso", "wrong-password-123", "2001:db8::1")
			results <- err
		}()
	}
	checked, throttled := 0, 0
	for i := 0; i < 40; i++ {
		err := <-results
		var te *enrollment.ThrottledError
		switch {
		case errors.Is(err, enrollment.ErrLogin):
			checked++
		case errors.As(err, &te):
			throttled++
			if te.Locked {
				t.Fatal("a burst locked the account")
			}
		default:
			t.Fatalf("unexpected: %v", err)
		}
	}
	// Three free failures and a fourth that starts the waits pass at once.
	if checked != 4 || throttled != 36 {
		t.Fatalf("%d password checks and %d throttled of 40; want 4 checks", checked, throttled)
	}
	// Another address in the same IPv6 /64 is the same client.
	var te *enrollment.ThrottledError
	if _, err := s.Authenticate(ctx, "someone.else", "whatever-1234", "2001:db8::ffff"); !errors.As(err, &te) {
		t.Fatalf("another address of the same /64: %v, want a wait", err)
	}
}

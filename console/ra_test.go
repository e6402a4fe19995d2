package console_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/psre/appliance/audit"
	"github.com/psre/appliance/enrollment"
	"github.com/psre/appliance/store"
)

// TestRAFlow: the review page, images, duplicates, the three decisions,
// refusals without a reason or in the wrong state, and segregation.
func TestRAFlow(t *testing.T) {
	e := newEnv(t, 1)
	cs := e.officer("Citra CS", store.RoleCS, "")
	ra := e.officer("Rudi RA", store.RoleRA, "")
	sari := e.officer("Sari RA", store.RoleRA, "sari@psre.example")
	budi := e.applicant("", false) // applicant 1
	twin := e.applicant("", true)  // same name, birth date and KTP photo
	fix, final, own := e.applicant("", false), e.applicant("", false), e.applicant("sari@psre.example", false)
	for _, id := range []string{budi, twin, fix, final, own} {
		e.toReview(id, cs)
	}

	expect(t, "queue", ra.get("/ra/"), 200, "/ra/applications/"+budi, "/ra/applications/"+own, "0/1")
	page := "/ra/applications/" + budi
	expect(t, "review page", ra.get(page), 200,
		`<dd id="name">Pemohon Nomor B</dd>`, `<dd id="nik">3171011208900001</dd>`, `<dd id="birth">1990-08-12</dd>`,
		`<dd id="province">DKI Jakarta</dd>`, `<dd id="nik-birth">1990-08-12</dd>`, `<dd id="gender">Laki-laki</dd>`,
		"pemohon1@example.co.id", "&#43;6281234500001",
		`<img src="`+page+`/image/ktp_photo"`, `<img src="`+page+`/image/selfie"`, `<img src="`+page+`/image/specimen"`,
		"Nama dan tanggal lahir sama", "Foto KTP sama", `<a href="/ra/applications/`+twin+`">`,
		`<span id="approval-count">0</span>`, `action="`+page+`/approve"`, `name="field" value="selfie"`)
	for kind, want := range map[string]struct {
		ctype string
		data  []byte
	}{"ktp_photo": {"image/png", picture(t, 1, true)}, "selfie": {"image/jpeg", picture(t, 101, false)}, "specimen": {"image/png", picture(t, 201, true)}} {
		r := ra.get(page + "/image/" + kind)
		expect(t, kind, r, 200)
		if r.header.Get("Content-Type") != want.ctype || r.body != string(want.data) || r.header.Get("Cache-Control") != "no-store" {
			t.Fatalf("%s: %v, %d bytes", kind, r.header, len(r.body))
		}
	}
	expect(t, "unknown image", ra.get(page+"/image/password"), 404)
	var opened []audit.Record
	e.db.View(func(tx *bolt.Tx) (err error) {
		opened, err = audit.List(tx, audit.Filter{Action: "application.open_personal_data", Object: "application/" + budi})
		return err
	})
	if len(opened) != 4 || opened[0].Actor != "officer:ra:Rudi RA" {
		t.Fatalf("openings of personal data audited: %+v", opened)
	}

	// Rejections need a reason (and fields when correctable): 400, the
	// form again with the message, nothing changed.
	before := e.snapshot(budi)
	for _, c := range []struct {
		path, want string
		form       url.Values
	}{
		{"/reject-final", "Alasan wajib diisi", url.Values{"reason": {""}}},
		{"/reject-correctable", "Alasan wajib diisi", url.Values{"field": {"selfie"}}},
		{"/reject-correctable", "Pilih setidaknya satu", url.Values{"reason": {"buram"}}},
		{"/reject-correctable", "tidak dapat diperbaiki", url.Values{"reason": {"buram"}, "field": {"password"}}},
		{"/reject-final", "Alasan terlalu panjang", url.Values{"reason": {strings.Repeat("x", enrollment.MaxReasonLength+1)}}},
	} {
		expect(t, c.path+" "+c.want, ra.post(page+c.path, c.form), 400, c.want, `id="form-error"`)
	}
	if e.snapshot(budi) != before {
		t.Fatal("a refused rejection changed the application")
	}

	r := ra.post("/ra/applications/"+fix+"/reject-correctable", url.Values{"reason": {"Selfie buram"}, "field": {"selfie", "nik"}})
	expect(t, "reject correctable", r, 303)
	if got := e.app(fix); r.header.Get("Location") != "/ra/?done=rejected_correctable" || got.State != enrollment.StateRejectedCorrectable ||
		fmt.Sprint(got.Rejection.Fields) != "[nik selfie]" || got.Rejection.Reason != "Selfie buram" {
		t.Fatalf("after the correctable rejection: %s %+v", r.header.Get("Location"), got.Rejection)
	}
	expect(t, "reject final", ra.post("/ra/applications/"+final+"/reject-final", url.Values{"reason": {"Dokumen palsu"}}), 303)
	if got := e.app(final); got.State != enrollment.StateRejected || got.Rejection.Correctable {
		t.Fatalf("after the final rejection: %s", got.State)
	}

	r = ra.post(page+"/approve", nil)
	expect(t, "approve", r, 303)
	if got := e.app(budi); r.header.Get("Location") != "/ra/?done=approved" || got.State != enrollment.StateActivationPending {
		t.Fatalf("after approval: %s %s", r.header.Get("Location"), got.State)
	}
	expect(t, "flash", ra.get("/ra/?done=approved"), 200, "Permohonan disetujui")
	before = e.snapshot(budi)
	expect(t, "approve again", ra.post(page+"/approve", nil), 409, "Menunggu aktivasi")
	expect(t, "reject after approval", ra.post(page+"/reject-final", url.Values{"reason": {"terlambat"}}), 409)
	if e.snapshot(budi) != before {
		t.Fatal("a refused decision changed the application")
	}
	expect(t, "page after approval", ra.get(page), 200, "tidak sedang dalam pemeriksaan RA")

	// Sari never handles the application bearing her own email.
	rule := "an officer never acts on an application bearing their own email or NIK"
	before = e.snapshot(own)
	expect(t, "own page", sari.get("/ra/applications/"+own), 403, rule)
	expect(t, "own image", sari.get("/ra/applications/"+own+"/image/selfie"), 403, rule)
	expect(t, "own approval", sari.post("/ra/applications/"+own+"/approve", nil), 403, rule)
	expect(t, "own rejection", sari.post("/ra/applications/"+own+"/reject-final", url.Values{"reason": {"x"}}), 403, rule)
	if e.snapshot(own) != before {
		t.Fatal("an officer decided on their own application")
	}
	expect(t, "someone else's", sari.get("/ra/applications/"+twin), 200)
}

// TestFourEyes: with two approvals configured the payment confirmer (under
// another certificate) cannot approve, the first approval waits for a
// second officer, and the same officer cannot give both.
func TestFourEyes(t *testing.T) {
	e := newEnv(t, 2)
	cs := e.officer("Citra CS", store.RoleCS, "citra@psre.example")
	citraRA := e.officer("Citra RA", store.RoleRA, "citra@psre.example")
	ra1, ra2 := e.officer("Rudi RA", store.RoleRA, ""), e.officer("Rina RA", store.RoleRA, "")
	id := e.applicant("", false)
	e.toReview(id, cs)
	page := "/ra/applications/" + id

	before := e.snapshot(id)
	expect(t, "the confirmer approves", citraRA.post(page+"/approve", nil), 403, "the officer who confirmed the payment cannot approve the application")
	expect(t, "CS on the RA route", cs.post(page+"/approve", nil), 403, "Akses ditolak")
	if e.snapshot(id) != before {
		t.Fatal("a refused approval changed the application")
	}
	r := ra1.post(page+"/approve", nil)
	expect(t, "first approval", r, 303)
	if got := e.app(id); r.header.Get("Location") != "/ra/?done=approved_first" || got.State != enrollment.StateRAReview || len(got.Approvals) != 1 {
		t.Fatalf("after the first approval: %s %+v", r.header.Get("Location"), got)
	}
	expect(t, "queue", ra2.get("/ra/"), 200, "1/2")
	expect(t, "page for the second", ra2.get(page), 200, `<span id="approval-count">1</span>`, "Rudi RA", `id="approve"`)
	expect(t, "page for the first", ra1.get(page), 200, "persetujuan kedua harus dari petugas RA lain")
	expect(t, "second approval by the first", ra1.post(page+"/approve", nil), 403, "a second approval must come from another RA officer")
	expect(t, "second approval", ra2.post(page+"/approve", nil), 303)
	if got := e.app(id); got.State != enrollment.StateActivationPending || len(got.Approvals) != 2 {
		t.Fatalf("after two approvals: %s", got.State)
	}
}

package main

// End to end, over HTTP, in this process: from registration at the portal
// to the RA's approval at the console, the emails of each step through a
// real SMTP relay, the activation link they carry, and the audit log.
// See review_e2e_helpers_test.go for the harness.

import (
	"html"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/psre/appliance/notify"
)

var (
	rvLinkRE = regexp.MustCompile(`http://127\.0\.0\.1:[0-9]+/aktivasi\?token=[A-Za-z0-9_-]+`)
	rvVARE   = regexp.MustCompile(`^88081[0-9]{10}$`) // demoSettings' prefix and 10 random digits
)

// rvQueueID finds the application of the applicant named name in a
// section ("requested", "submitted", "awaiting") of the CS queue, or in
// the RA queue (section "").
func rvQueueID(t *testing.T, page, section, name string) string {
	t.Helper()
	area, prefix := page, "/ra/applications/"
	if section != "" {
		m := regexp.MustCompile(`(?s)<section id="` + section + `">(.*?)</section>`).FindStringSubmatch(page)
		if m == nil {
			t.Fatalf("CS queue without section %q:\n%s", section, rvSnippet(page))
		}
		area, prefix = m[1], "/cs/applications/"
	}
	m := regexp.MustCompile(`<a href="` + prefix + `([^"]+)">[^<]*</a></td><td>` + regexp.QuoteMeta(html.EscapeString(name)) + `</td>`).FindStringSubmatch(area)
	if m == nil {
		t.Fatalf("%s is not in the queue (section %q):\n%s", name, section, rvSnippet(area))
	}
	return m[1]
}

// rvReviewPath takes applicant a, logged in on c, from "Ajukan Verifikasi"
// to the RA's approval, checking the pages and emails of every step. It
// returns the application id and the activation link of the approval email.
func rvReviewPath(t *testing.T, c *rvClient, a rvApplicant, cs, ra *rvClient, relay *rvRelay) (id, link string) {
	t.Helper()
	if s := c.accountState(); s != "registered" {
		t.Fatalf("%s's account: state %s, want registered", a.username, s)
	}

	// The applicant asks for verification; CS sees the request.
	c.must("Ajukan Verifikasi", c.postForm("/account/verification", nil), http.StatusSeeOther, "/account")
	if s := c.accountState(); s != "verification_requested" {
		t.Fatalf("after Ajukan Verifikasi: state %s", s)
	}
	relay.expect(t, a.email, notify.KindRequestReceived)
	queue := cs.must("CS queue", cs.get("/cs/"), http.StatusOK, "")
	id = rvQueueID(t, queue.body, "requested", a.name)
	app := cs.must("CS application page", cs.get("/cs/applications/"+id), http.StatusOK, "")
	if !strings.Contains(app.body, `id="issue-invoice"`) || strings.Contains(app.body, a.nik) {
		t.Fatalf("CS page of a verification request: no invoice button, or the NIK shown:\n%s", rvSnippet(app.body))
	}

	// CS issues the invoice: the applicant sees it and gets it by email.
	cs.must("issue invoice", cs.postForm("/cs/applications/"+id+"/invoice", nil), http.StatusSeeOther, "/cs/?done=invoice_issued")
	mail := relay.expect(t, a.email, notify.KindPaymentInstructions)
	inv := c.must("GET /account/invoice", c.get("/account/invoice"), http.StatusOK, "")
	amount, va, number := rvText(inv.body, "invoice-amount"), rvText(inv.body, "invoice-virtual-account"), rvText(inv.body, "invoice-number")
	if amount != "Rp 150.000" || !rvVARE.MatchString(va) || number == "" {
		t.Fatalf("invoice page: amount %q, virtual account %q, number %q", amount, va, number)
	}
	for _, s := range []string{"Rp 150.000", va} {
		if !strings.Contains(mail.Text, s) {
			t.Errorf("payment instructions email lacks %q:\n%s", s, mail.Text)
		}
	}
	if s := c.accountState(); s != "awaiting_payment" {
		t.Fatalf("after the invoice: state %s", s)
	}

	// The applicant uploads the proof of payment; CS opens and confirms it.
	proof := rvPDF(1)
	c.must("upload proof", c.postMultipart("/account/payment-proof", nil, rvFile{"proof", "bukti.pdf", proof}), http.StatusSeeOther, "/account")
	if s := c.accountState(); s != "payment_submitted" {
		t.Fatalf("after the proof: state %s", s)
	}
	queue = cs.must("CS queue", cs.get("/cs/"), http.StatusOK, "")
	if got := rvQueueID(t, queue.body, "submitted", a.name); got != id {
		t.Fatalf("CS queue lists %s's proof under %s, want %s", a.name, got, id)
	}
	p := cs.must("CS opens the proof", cs.get("/cs/applications/"+id+"/proof"), http.StatusOK, "")
	if ct := p.header.Get("Content-Type"); ct != "application/pdf" || !strings.HasPrefix(p.body, "%PDF-") {
		t.Fatalf("proof: Content-Type %q, body %.20q", ct, p.body)
	}
	cs.must("confirm payment", cs.postForm("/cs/applications/"+id+"/confirm", nil), http.StatusSeeOther, "/cs/?done=payment_confirmed")
	relay.expect(t, a.email, notify.KindPaymentConfirmed)
	if s := c.accountState(); s != "ra_review" {
		t.Fatalf("after the confirmation: state %s", s)
	}

	// The RA reads the decrypted file, checks the NIK and approves.
	if got := rvQueueID(t, ra.must("RA queue", ra.get("/ra/"), http.StatusOK, "").body, "", a.name); got != id {
		t.Fatalf("RA queue: %s, want %s", got, id)
	}
	file := ra.must("RA application page", ra.get("/ra/applications/"+id), http.StatusOK, "")
	for field, want := range map[string]string{"nik": a.nik, "name": a.name, "birth": a.birth, "province": a.province, "nik-birth": a.birth} {
		if got := rvText(file.body, field); got != want {
			t.Errorf("RA page: %s = %q, want %q", field, got, want)
		}
	}
	if strings.Contains(file.body, `id="nik-problem"`) || !strings.Contains(file.body, `id="approve"`) {
		t.Errorf("RA page: NIK problem shown or no approve button:\n%s", rvSnippet(file.body))
	}
	for kind, ctype := range map[string]string{"ktp_photo": "image/jpeg", "selfie": "image/jpeg", "specimen": "image/png"} {
		img := ra.must("RA image "+kind, ra.get("/ra/applications/"+id+"/image/"+kind), http.StatusOK, "")
		if got := img.header.Get("Content-Type"); got != ctype {
			t.Errorf("RA image %s: Content-Type %q, want %q", kind, got, ctype)
		}
	}
	ra.must("approve", ra.postForm("/ra/applications/"+id+"/approve", nil), http.StatusSeeOther, "/ra/?done=approved")
	mail = relay.expect(t, a.email, notify.KindApproved)
	links := rvLinkRE.FindAllString(mail.Text, -1)
	if len(links) != 1 {
		t.Fatalf("approval email holds %d activation links, want 1:\n%s", len(links), mail.Text)
	}
	if s := c.accountState(); s != "activation_pending" {
		t.Fatalf("after the approval: state %s", s)
	}
	return id, links[0]
}

// TestReviewE2E runs two applicants through the review over HTTP: the
// portal with cookie jars, the console over mTLS with the demo officers'
// certificates, every email through a real SMTP relay.
func TestReviewE2E(t *testing.T) {
	dir := rvInitDemo(t)
	relay, pool := rvNewRelay(t)
	sms := rvNewSMSSink(t)
	svc := rvStart(t, dir, rvNotify{relay: relay.addr, pool: pool, sms: sms.srv.URL})

	budi, siti := rvBudi(), rvSiti()
	a, b := svc.portalClient(t), svc.portalClient(t)
	a.register(budi)
	a.login(budi)
	b.register(siti)
	b.login(siti)
	cs, ra, auditor := svc.officer(t, "cs"), svc.officer(t, "ra"), svc.officer(t, "auditor")

	idA, linkA := rvReviewPath(t, a, budi, cs, ra, relay)
	idB, linkB := rvReviewPath(t, b, siti, cs, ra, relay)
	if idA == idB {
		t.Fatalf("both applications have id %s", idA)
	}

	t.Run("activation link", func(t *testing.T) {
		if !strings.HasPrefix(linkA, svc.portal+"/aktivasi?token=") {
			t.Errorf("link %s does not point at the portal %s", linkA, svc.portal)
		}
		for _, tc := range []struct {
			who    string
			c      *rvClient
			link   string
			status int
			marker string
		}{
			{"Budi opens his link", a, linkA, http.StatusOK, `id="activation-valid"`},
			{"Siti opens Budi's link", b, linkA, http.StatusBadRequest, `id="error-message"`},
			{"Budi opens Siti's link", a, linkB, http.StatusBadRequest, `id="error-message"`},
			{"Siti opens her link", b, linkB, http.StatusOK, `id="activation-valid"`},
		} {
			r := tc.c.get(tc.link)
			if r.status != tc.status || !strings.Contains(r.body, tc.marker) {
				t.Errorf("%s: %v, want %d with %s\n%s", tc.who, r, tc.status, tc.marker, rvSnippet(r.body))
			}
		}
		anon := svc.portalClient(t)
		want := "/login?" + url.Values{"next": {strings.TrimPrefix(linkA, svc.portal)}}.Encode()
		if r := anon.get(linkA); r.status != http.StatusSeeOther || r.location() != want {
			t.Errorf("logged out: %v, want 303 to %s", r, want)
		}
		// Checking a link consumes nothing: the owner can open it again.
		if r := a.get(linkA); r.status != http.StatusOK {
			t.Errorf("Budi's link, second time: %v", r)
		}
	})

	t.Run("emails", func(t *testing.T) {
		kinds := []string{notify.KindRequestReceived, notify.KindPaymentInstructions, notify.KindPaymentConfirmed, notify.KindApproved}
		got := map[string][]string{}
		ids := map[string]bool{}
		msgs := relay.all()
		for _, r := range msgs {
			m := rvParseMail(t, r)
			got[m.To] = append(got[m.To], m.Subject)
			if ids[m.MessageID] || m.MessageID == "" {
				t.Errorf("Message-ID %q missing or repeated", m.MessageID)
			}
			ids[m.MessageID] = true
			if !m.OverTLS || !m.Authenticated || m.From != rvMailFrom || m.EnvelopeFrom != rvMailFrom ||
				len(m.EnvelopeTo) != 1 || m.EnvelopeTo[0] != m.To || m.ContentLanguage != "id" {
				t.Errorf("%q to %s: TLS %v, AUTH %v, From %s, MAIL FROM %s, RCPT TO %v, language %q", m.Subject, m.To,
					m.OverTLS, m.Authenticated, m.From, m.EnvelopeFrom, m.EnvelopeTo, m.ContentLanguage)
			}
		}
		for _, who := range []rvApplicant{budi, siti} {
			var want []string
			for _, k := range kinds {
				want = append(want, rvSubject(t, k))
			}
			if strings.Join(got[who.email], "\n") != strings.Join(want, "\n") {
				t.Errorf("emails to %s, in order:\n%s\nwant:\n%s", who.email, strings.Join(got[who.email], "\n"), strings.Join(want, "\n"))
			}
		}
		if len(msgs) != 2*len(kinds) {
			t.Errorf("the relay received %d messages, want %d", len(msgs), 2*len(kinds))
		}
		if n := sms.count(); n != 0 {
			t.Errorf("%d SMS sent before activation, want none", n)
		}
	})

	t.Run("audit log", func(t *testing.T) {
		r := auditor.must("verify the audit log", auditor.postForm("/audit/verify", nil), http.StatusOK, "")
		if !strings.Contains(r.body, `id="verify-ok"`) || strings.Contains(r.body, `id="verify-broken"`) {
			t.Errorf("auditor's verification:\n%s", rvSnippet(r.body))
		}
		trail := auditor.must("audit trail", auditor.get("/audit/?"+url.Values{"object": {"application/" + idA}, "limit": {"200"}}.Encode()), http.StatusOK, "")
		for _, action := range []string{"application.request_verification", "application.issue_invoice", "application.submit_payment_proof",
			"application.confirm_payment", "application.open_personal_data", "application.approve"} {
			if !strings.Contains(trail.body, `<td class="action">`+action+`</td>`) {
				t.Errorf("audit trail of %s lacks %s", idA, action)
			}
		}
		// While the service holds the store, the CLI verifies through the
		// admin socket.
		out, err := rvCLI(t, "audit", "verify", "--state", dir)
		if err != nil || !strings.HasPrefix(out, "audit log verified: ") {
			t.Errorf("audit verify while serving: %v\n%s", err, out)
		}
	})

	svc.stop(t)
	t.Run("outbox after the service stopped", func(t *testing.T) {
		recs := rvOutbox(t, dir)
		if len(recs) != 8 {
			t.Errorf("outbox holds %d records, want 8", len(recs))
		}
		for _, r := range recs {
			if r.Channel != notify.ChannelEmail || r.Status != notify.StatusSent || r.Attempts != 1 {
				t.Errorf("outbox %d (%s to %s): %s after %d attempts (%s), want sent at the first", r.ID, r.Kind, r.To, r.Status, r.Attempts, r.LastError)
			}
		}
		// The service signs a checkpoint at shutdown: the whole log verifies
		// from the file, signed to its end.
		out, err := rvCLI(t, "audit", "verify", "--state", dir)
		if err != nil || !strings.HasPrefix(out, "audit log verified: ") || strings.Contains(out, "not yet signed") {
			t.Errorf("audit verify after shutdown: %v\n%s", err, out)
		}
	})
}

// TestReviewE2EOutboxWaitsForRelay: while the SMTP relay is down the
// request_received email waits in the outbox; it survives a restart of the
// service and, the relay back, is delivered once: by the first pass of the
// restarted dispatcher, and not again when the next transition wakes it.
//
// The relay is down in the way that holds a delivery attempt open (it
// accepts TCP and never greets), so that the attempt is in flight when the
// service stops and does not count. A relay that refuses connections makes
// the attempt fail and schedules the retry 30 s later (notify's minimum
// backoff, which the layout cannot set, and a Wake does not bring
// forward): too slow for this test.
func TestReviewE2EOutboxWaitsForRelay(t *testing.T) {
	dir := rvInitDemo(t)
	cert, pool := rvRelayCert(t)
	sms := rvNewSMSSink(t)
	down := rvNewHungRelay(t)
	svc := rvStart(t, dir, rvNotify{relay: down.addr(), pool: pool, sms: sms.srv.URL})

	budi := rvBudi()
	a := svc.portalClient(t)
	a.register(budi)
	a.login(budi)
	a.must("Ajukan Verifikasi", a.postForm("/account/verification", nil), http.StatusSeeOther, "/account")
	select {
	case <-down.accepted: // the dispatcher, woken by the transition, is trying the relay
	case <-rvWaitBound():
		t.Fatal("the dispatcher never tried the relay")
	}
	svc.stop(t)

	recs := rvOutbox(t, dir)
	if len(recs) != 1 || recs[0].Kind != notify.KindRequestReceived || recs[0].Status != notify.StatusPending || recs[0].Attempts != 0 {
		t.Fatalf("outbox while the relay is down: %+v, want request_received pending, no attempt counted", recs)
	}

	// The relay comes back on the same address; the service starts again.
	addr := down.addr()
	down.close()
	ln, err := net.Listen("tcp", addr) // the address the hung relay just left
	if err != nil {
		t.Fatal(err)
	}
	relay := rvServeRelay(t, ln, cert)
	svc = rvStart(t, dir, rvNotify{relay: addr, pool: pool, sms: sms.srv.URL})
	first := relay.expect(t, budi.email, notify.KindRequestReceived)

	// The next transition wakes the dispatcher: its email goes, the first
	// is not sent again.
	cs := svc.officer(t, "cs")
	id := rvQueueID(t, cs.get("/cs/").body, "requested", budi.name)
	cs.must("issue invoice", cs.postForm("/cs/applications/"+id+"/invoice", nil), http.StatusSeeOther, "/cs/?done=invoice_issued")
	second := relay.expect(t, budi.email, notify.KindPaymentInstructions)
	if n := len(relay.all()); n != 2 || first.MessageID == second.MessageID {
		t.Errorf("the relay received %d messages (Message-IDs %s, %s), want 2 distinct", n, first.MessageID, second.MessageID)
	}
	if want := "<" + recs[0].MessageID + "@psre.example>"; first.MessageID != want {
		t.Errorf("delivered Message-ID %s, want the one fixed at enqueue %s", first.MessageID, want)
	}
	svc.stop(t)
	for _, r := range rvOutbox(t, dir) {
		if r.Status != notify.StatusSent || r.Attempts != 1 {
			t.Errorf("outbox %d (%s): %s after %d attempts (%s), want sent once", r.ID, r.Kind, r.Status, r.Attempts, r.LastError)
		}
	}
}

package notify

import (
	"errors"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func templateData(name string) map[string]any {
	c := Common{Name: name, PortalURL: "https://portal.psre.test/"}
	due := time.Date(2026, 3, 5, 10, 0, 0, 0, time.UTC)
	return map[string]any{
		KindRequestReceived:     c,
		KindPaymentInstructions: PaymentInstructionsData{Common: c, Amount: "Rp 150.000", BankName: "Bank Contoh", VirtualAccount: "8808123456789012", Reference: "INV-1", DueDate: due},
		KindPaymentRejected:     PaymentRejectedData{Common: c, Reason: "Jumlah tidak sesuai"},
		KindPaymentConfirmed:    c,
		KindApproved:            ApprovedData{Common: c, ActivationURL: "https://portal.psre.test/aktivasi/tok", ExpiresAt: due},
		KindRejected:            RejectedData{Common: c, Reason: "Foto KTP buram", Fields: []string{"Foto KTP", "Tanggal lahir"}, Correctable: true},
		KindOTPEmail:            OTPData{Common: c, Code: "493021", ValidMinutes: 5},
		KindOTPSMS:              OTPData{Common: c, Code: "493021", ValidMinutes: 5, Purpose: "kontrak.pdf"},
		KindCertificateIssued:   CertificateIssuedData{Common: c, Serial: "5f3a", NotAfter: due, Fingerprint: "ab12"},
		KindCertificateRevoked:  CertificateRevokedData{Common: c, Serial: "5f3a", Reason: "kunci bocor"},
	}
}

func TestTemplatesEveryKindAndLanguage(t *testing.T) {
	tpl, err := NewTemplates("")
	if err != nil {
		t.Fatal(err)
	}
	db := openDB(t, "")
	hostile := `<script>alert("x")</script>`
	for kind, data := range templateData(hostile) {
		subjects := map[string]string{}
		for _, lang := range []string{LangID, LangEN} {
			var m Message
			var err error
			if kind == KindOTPSMS {
				m, err = tpl.SMS(kind, lang, "+6281234567890", data)
			} else {
				m, err = tpl.Email(kind, lang, "budi@example.test", data)
			}
			if err != nil {
				t.Fatalf("%s/%s: %v", lang, kind, err)
			}
			if m.Kind != kind || m.Lang != lang || m.Text == "" || strings.Contains(m.Text, "<no value>") {
				t.Errorf("%s/%s: %+v", lang, kind, m)
			}
			if err := db.Update(func(tx *bolt.Tx) error { _, err := Enqueue(tx, m); return err }); err != nil {
				t.Errorf("%s/%s does not enqueue: %v", lang, kind, err)
			}
			if kind == KindOTPSMS {
				if !strings.Contains(m.Text, "493021") || !strings.Contains(m.Text, "kontrak.pdf") || strings.Contains(m.Text, "\n") {
					t.Errorf("%s SMS: %q", lang, m.Text)
				}
				continue
			}
			subjects[lang] = m.Subject
			if m.Subject == "" || m.HTML == "" || strings.ContainsAny(m.Subject, "\r\n") {
				t.Errorf("%s/%s: subject %q, html %d bytes", lang, kind, m.Subject, len(m.HTML))
			}
			if strings.Contains(m.HTML, "<script>") || !strings.Contains(m.HTML, "&lt;script&gt;") {
				t.Errorf("%s/%s: name not escaped in HTML", lang, kind)
			}
			if !strings.Contains(m.Text, hostile) {
				t.Errorf("%s/%s: text lacks the greeting", lang, kind)
			}
			if !strings.Contains(m.HTML, `<html lang="`+lang+`">`) {
				t.Errorf("%s/%s: html lang", lang, kind)
			}
		}
		if kind != KindOTPSMS && subjects[LangID] == subjects[LangEN] {
			t.Errorf("%s: same subject in both languages: %q", kind, subjects[LangID])
		}
	}
}

func TestTemplatesContent(t *testing.T) {
	tpl, err := NewTemplates("Contoh PSrE")
	if err != nil {
		t.Fatal(err)
	}
	data := templateData("Budi Santoso")
	m, err := tpl.Email(KindApproved, "id-ID", "budi@example.test", data[KindApproved])
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Yth. Budi Santoso,", "Aktivasi: https://portal.psre.test/aktivasi/tok", "5 Maret 2026 pukul 17.00 WIB", "Tim Contoh PSrE"} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("approved id text lacks %q:\n%s", want, m.Text)
		}
	}
	if !strings.Contains(m.HTML, `href="https://portal.psre.test/aktivasi/tok"`) || !strings.Contains(m.HTML, ">Aktivasi</a>") {
		t.Errorf("approved id html:\n%s", m.HTML)
	}
	en, _ := tpl.Email(KindApproved, LangEN, "budi@example.test", data[KindApproved])
	if !strings.Contains(en.Text, "5 March 2026, 17:00 WIB") {
		t.Errorf("approved en text:\n%s", en.Text)
	}
	bad := ApprovedData{ActivationURL: "javascript:alert(1)"}
	if m, _ := tpl.Email(KindApproved, LangEN, "x@example.test", bad); strings.Contains(m.HTML, `href="javascript:`) || !strings.Contains(m.HTML, `href="#ZgotmplZ"`) {
		t.Error("javascript: URL in an href")
	}
	rej, _ := tpl.Email(KindRejected, LangID, "x@example.test", data[KindRejected])
	if !strings.Contains(rej.Text, "- Foto KTP\n- Tanggal lahir\n") || !strings.Contains(rej.Subject, "diperbaiki") {
		t.Errorf("correctable rejection:\n%s\n%s", rej.Subject, rej.Text)
	}
	final, _ := tpl.Email(KindRejected, LangID, "x@example.test", RejectedData{Reason: "Data palsu"})
	if !strings.Contains(final.Subject, "ditolak") || strings.Contains(final.Text, "perbaiki") || !strings.Contains(final.Text, "Bapak/Ibu") {
		t.Errorf("final rejection:\n%s\n%s", final.Subject, final.Text)
	}
	pay, _ := tpl.Email(KindPaymentInstructions, LangID, "x@example.test", data[KindPaymentInstructions])
	if !strings.Contains(pay.Text, "8808123456789012") || strings.Contains(pay.Text, "Nomor rekening") || strings.Contains(pay.Text, "\n\n\n") {
		t.Errorf("payment instructions:\n%s", pay.Text)
	}
}

func TestTemplatesErrors(t *testing.T) {
	tpl, err := NewTemplates("")
	if err != nil {
		t.Fatal(err)
	}
	c := Common{Name: "Budi"}
	tests := []struct {
		name string
		call func() (Message, error)
		want error
	}{
		{"unknown kind", func() (Message, error) { return tpl.Email("welcome", LangID, "a@b.test", c) }, ErrUnknownKind},
		{"unknown language", func() (Message, error) { return tpl.Email(KindApproved, "fr", "a@b.test", c) }, ErrUnknownLanguage},
		{"sms kind as email", func() (Message, error) { return tpl.Email(KindOTPSMS, LangID, "a@b.test", c) }, ErrUnknownKind},
		{"email kind as sms", func() (Message, error) { return tpl.SMS(KindApproved, LangID, "+62812345678", c) }, ErrUnknownKind},
		{"missing field", func() (Message, error) { return tpl.Email(KindApproved, LangID, "a@b.test", c) }, nil},
		{"missing map key", func() (Message, error) {
			return tpl.Email(KindRequestReceived, LangID, "a@b.test", map[string]any{"Name": "x"})
		}, nil},
	}
	for _, tc := range tests {
		_, err := tc.call()
		if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
	if m, err := tpl.Email(KindRequestReceived, "", "a@b.test", c); err != nil || m.Lang != LangID {
		t.Errorf("default language: %v %q", err, m.Lang)
	}
}

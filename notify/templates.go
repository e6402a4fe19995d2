package notify

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	htemplate "html/template"
	"regexp"
	"strings"
	ttemplate "text/template"
	"time"
)

// Message kinds.
const (
	KindRequestReceived     = "request_received"
	KindPaymentInstructions = "payment_instructions"
	KindPaymentRejected     = "payment_rejected"
	KindPaymentConfirmed    = "payment_confirmed"
	KindApproved            = "approved"
	KindRejected            = "rejected"
	KindOTPEmail            = "otp_email"
	KindOTPSMS              = "otp_sms"
	KindCertificateIssued   = "certificate_issued"
	KindCertificateRevoked  = "certificate_revoked"
)

// Languages: Indonesian first (the default), English second.
const (
	LangID = "id"
	LangEN = "en"
)

// Template errors callers branch on.
var (
	ErrUnknownKind     = errors.New("notify: unknown message kind")
	ErrUnknownLanguage = errors.New("notify: unknown language")
)

//go:embed templates
var templateFS embed.FS

// wib is Western Indonesia Time (UTC+7, no daylight saving), the zone of
// every date in a message.
var wib = time.FixedZone("WIB", 7*60*60)

// Templates renders the embedded message templates. It is safe for
// concurrent use.
type Templates struct {
	sets map[[2]string]templateSet // {kind, lang}
}

type templateSet struct {
	channel string
	text    *ttemplate.Template // "subject" (email) and "text"
	html    *htemplate.Template // "layout" (email only)
}

// NewTemplates parses every kind in both languages. product names the
// service in greetings and signatures; empty means "PSrE Appliance".
func NewTemplates(product string) (*Templates, error) {
	if product == "" {
		product = "PSrE Appliance"
	}
	kinds := []struct{ kind, channel string }{
		{KindRequestReceived, ChannelEmail}, {KindPaymentInstructions, ChannelEmail},
		{KindPaymentRejected, ChannelEmail}, {KindPaymentConfirmed, ChannelEmail},
		{KindApproved, ChannelEmail}, {KindRejected, ChannelEmail},
		{KindOTPEmail, ChannelEmail}, {KindOTPSMS, ChannelSMS},
		{KindCertificateIssued, ChannelEmail}, {KindCertificateRevoked, ChannelEmail},
	}
	t := &Templates{sets: map[[2]string]templateSet{}}
	for _, lang := range []string{LangID, LangEN} {
		funcs := map[string]any{
			"product": func() string { return product },
			"lang":    func() string { return lang },
			"date":    func(v any) string { return formatDate(v, lang) },
		}
		for _, k := range kinds {
			dir := "templates/" + lang + "/"
			s := templateSet{channel: k.channel}
			var err error
			s.text, err = ttemplate.New(k.kind).Option("missingkey=error").Funcs(funcs).
				ParseFS(templateFS, dir+"common.txt", dir+k.kind+".txt")
			if err == nil && k.channel == ChannelEmail {
				s.html, err = htemplate.New(k.kind).Option("missingkey=error").Funcs(funcs).
					ParseFS(templateFS, "templates/layout.html", dir+"common.html", dir+k.kind+".html")
			}
			if err != nil {
				return nil, fmt.Errorf("notify: parse templates %s/%s: %w", lang, k.kind, err)
			}
			t.sets[[2]string{k.kind, lang}] = s
		}
	}
	return t, nil
}

func (t *Templates) set(kind, lang, channel string) (templateSet, string, error) {
	lang = strings.ToLower(lang)
	if i := strings.IndexAny(lang, "-_"); i >= 0 {
		lang = lang[:i] // id-ID -> id
	}
	if lang == "" {
		lang = LangID
	}
	if lang != LangID && lang != LangEN {
		return templateSet{}, "", fmt.Errorf("%w %q (have id, en)", ErrUnknownLanguage, lang)
	}
	s, ok := t.sets[[2]string{kind, lang}]
	if !ok || s.channel != channel {
		return templateSet{}, "", fmt.Errorf("%w %q for %s", ErrUnknownKind, kind, channel)
	}
	return s, lang, nil
}

// Email renders an email of the given kind and language to the address to.
// data is one of the *Data types of this package (or a map with the same
// fields).
func (t *Templates) Email(kind, lang, to string, data any) (Message, error) {
	s, lang, err := t.set(kind, lang, ChannelEmail)
	if err != nil {
		return Message{}, err
	}
	subject, err := execText(s.text, "subject", data)
	if err != nil {
		return Message{}, fmt.Errorf("notify: render %s/%s subject: %w", lang, kind, err)
	}
	text, err := execText(s.text, "text", data)
	if err != nil {
		return Message{}, fmt.Errorf("notify: render %s/%s text: %w", lang, kind, err)
	}
	var html bytes.Buffer
	if err := s.html.ExecuteTemplate(&html, "layout", data); err != nil {
		return Message{}, fmt.Errorf("notify: render %s/%s html: %w", lang, kind, err)
	}
	return Message{
		Channel: ChannelEmail, To: to, Kind: kind, Lang: lang,
		Subject: strings.Join(strings.Fields(subject), " "), Text: text, HTML: html.String(),
	}, nil
}

// SMS renders an SMS of the given kind and language to the number to.
func (t *Templates) SMS(kind, lang, to string, data any) (Message, error) {
	s, lang, err := t.set(kind, lang, ChannelSMS)
	if err != nil {
		return Message{}, err
	}
	text, err := execText(s.text, "text", data)
	if err != nil {
		return Message{}, fmt.Errorf("notify: render %s/%s text: %w", lang, kind, err)
	}
	return Message{Channel: ChannelSMS, To: to, Kind: kind, Lang: lang, Text: strings.Join(strings.Fields(text), " ")}, nil
}

var blankLines = regexp.MustCompile(`\n[ \t]*\n(?:[ \t]*\n)+`)

func execText(t *ttemplate.Template, name string, data any) (string, error) {
	var b bytes.Buffer
	if err := t.ExecuteTemplate(&b, name, data); err != nil {
		return "", err
	}
	return strings.TrimSpace(blankLines.ReplaceAllString(b.String(), "\n\n")) + "\n", nil
}

func monthName(m time.Month, lang string) string {
	if lang == LangID {
		return [12]string{"Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli",
			"Agustus", "September", "Oktober", "November", "Desember"}[m-1]
	}
	return m.String()
}

// formatDate writes a time in WIB in the language's style; a string passes
// through, a zero time is empty.
func formatDate(v any, lang string) string {
	switch v := v.(type) {
	case string:
		return v
	case time.Time:
		if v.IsZero() {
			return ""
		}
		v = v.In(wib)
		m := monthName(v.Month(), lang)
		if lang == LangID {
			return fmt.Sprintf("%d %s %d pukul %02d.%02d WIB", v.Day(), m, v.Year(), v.Hour(), v.Minute())
		}
		return fmt.Sprintf("%d %s %d, %02d:%02d WIB (UTC+7)", v.Day(), m, v.Year(), v.Hour(), v.Minute())
	default:
		return fmt.Sprint(v)
	}
}

package portal

import (
	"embed"
	"fmt"
	"html/template"

	"github.com/psre/appliance/enrollment"
)

// The consent texts of the phone OTP page (seed step 19) are versioned
// like the privacy policy: consent/<version>.<lang>.html, our own embedded
// files. The versions in force come from the service; the portal refuses
// to start without their texts in every language.
//
//go:embed consent/*.html
var consentFS embed.FS

// consentText is one consent as the page shows it.
type consentText struct {
	Version string
	Text    template.HTML
}

// consentTexts are the two texts in force in one language.
type consentTexts struct {
	Issuance, Ownership consentText
}

// loadConsents reads the texts of the versions v in every language.
func loadConsents(v enrollment.Consents) (map[string]consentTexts, error) {
	out := map[string]consentTexts{}
	read := func(version, l string) (consentText, error) {
		if !policyVersion.MatchString(version) {
			return consentText{}, fmt.Errorf("portal: bad consent text version %q", version)
		}
		text, err := consentFS.ReadFile("consent/" + version + "." + l + ".html")
		if err != nil {
			return consentText{}, fmt.Errorf("portal: no text of consent %s in %s: %w", version, l, err)
		}
		return consentText{Version: version, Text: template.HTML(text)}, nil // our own embedded file
	}
	for _, l := range languages {
		var c consentTexts
		var err error
		if c.Issuance, err = read(v.Issuance, l); err != nil {
			return nil, err
		}
		if c.Ownership, err = read(v.Ownership, l); err != nil {
			return nil, err
		}
		out[l] = c
	}
	return out, nil
}

package portal

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/digitorus/pkcs7"

	"github.com/psre/appliance/enrollment"
	"github.com/psre/appliance/store"
)

// profilePage is "Account Setting > Profile" (seed step 22).
type profilePage struct {
	Name, Username, Email, Phone string
	State                        string
	Flash                        string // catalog key
	Cert                         *certView
	CanRevoke                    bool
	RevokeError                  string // in the caller's language
	Reason                       int    // the reason chosen, when the form comes back
	Signatures                   []signatureView
}

// certView is the subscriber's certificate as the profile shows it.
type certView struct {
	Subject, Serial, NotBefore, NotAfter, Fingerprint string
	Revoked                                           bool
	RevokedAt                                         string
}

// colonHex writes b as upper-case hex pairs separated by colons.
func colonHex(b []byte) string {
	parts := make([]string, len(b))
	for i, c := range b {
		parts[i] = fmt.Sprintf("%02X", c)
	}
	return strings.Join(parts, ":")
}

// myCertificate returns the caller's certificate with its chain and record;
// ok false means none (store.ErrNotFound), err another failure.
func (p *Portal) myCertificate(r *http.Request, app store.Application) (der []byte, chain [][]byte, rec store.CertRecord, ok bool, err error) {
	if app.Certificate == nil {
		return nil, nil, rec, false, nil
	}
	der, chain, rec, err = p.cfg.Service.CertificateOf(r.Context(), app.ApplicantID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, rec, false, nil
	}
	return der, chain, rec, err == nil, err
}

func (p *Portal) profile(w http.ResponseWriter, r *http.Request) {
	a, app, ok := p.mine(w, r)
	if ok {
		p.renderProfile(w, r, http.StatusOK, a, app, profilePage{Flash: p.takeFlash(r)})
	}
}

// renderProfile fills pg with the applicant's data and certificate.
func (p *Portal) renderProfile(w http.ResponseWriter, r *http.Request, status int, a store.Applicant, app store.Application, pg profilePage) {
	pg.Name, pg.Username, pg.Email, pg.Phone, pg.State = a.Name, a.Username, a.Email, a.Phone, app.State
	der, _, rec, ok, err := p.myCertificate(r, app)
	if err != nil {
		p.serverError(w, r, err)
		return
	}
	if ok {
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			p.serverError(w, r, err)
			return
		}
		fp := sha256.Sum256(der)
		l := lang(r)
		pg.Cert = &certView{Subject: cert.Subject.String(), Serial: strings.ToUpper(cert.SerialNumber.Text(16)),
			NotBefore: p.formatTime(l, cert.NotBefore), NotAfter: p.formatTime(l, cert.NotAfter),
			Fingerprint: colonHex(fp[:]), Revoked: rec.Status == store.StatusRevoked}
		if pg.Cert.Revoked {
			pg.Cert.RevokedAt = p.formatTime(l, rec.RevokedAt)
		}
		pg.CanRevoke = app.State == enrollment.StateIssued && !pg.Cert.Revoked
	}
	pg.Signatures = p.signatureList(r, a.ID)
	p.render(w, r, status, "profile", "profile.title", pg)
}

// downloads: the certificate as PEM, DER, or a certs-only PKCS#7 with the
// issuing CA and the root.
var downloads = map[string]string{
	"pem": "application/x-pem-file",
	"cer": "application/pkix-cert",
	"p7b": "application/pkcs7-mime",
}

// download is "Download Certificate" in format ext (a key of downloads).
func (p *Portal) download(ext string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_, app, ok := p.mine(w, r)
		if !ok {
			return
		}
		der, chain, rec, ok, err := p.myCertificate(r, app)
		if err != nil {
			p.serverError(w, r, err)
			return
		}
		if !ok {
			p.render(w, r, http.StatusNotFound, "error", "profile.title", errorPage{Message: "profile.no_certificate", Account: true})
			return
		}
		body := der
		switch ext {
		case "pem":
			body = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
		case "p7b":
			if body, err = pkcs7.DegenerateCertificate(bytes.Join(append([][]byte{der}, chain...), nil)); err != nil {
				p.serverError(w, r, err)
				return
			}
		}
		h := w.Header()
		h.Set("Content-Type", downloads[ext])
		h.Set("Content-Disposition", `attachment; filename="sertifikat-`+strings.ToUpper(rec.Serial)+"."+ext+`"`)
		h.Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write(body)
	}
}

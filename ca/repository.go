package ca

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gorilla/mux"

	"github.com/psre/appliance/store"
)

// RegisterRepository adds the public repository routes to r:
//
//	GET /crl/{ca}.crl   the CA's latest CRL, DER, application/pkix-crl
//	GET /certs/{ca}.der the CA certificate, DER (the AIA caIssuers target)
//	GET /certs/{ca}.pem the CA certificate, PEM
func (a *Authority) RegisterRepository(r *mux.Router) {
	r.HandleFunc("/crl/{ca}.crl", a.serveCRL).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/certs/{ca}.{ext:der|pem}", a.serveCACert).Methods(http.MethodGet, http.MethodHead)
}

func (a *Authority) serveCRL(w http.ResponseWriter, r *http.Request) {
	name := mux.Vars(r)["ca"]
	der, err := a.CRL(name)
	switch {
	case errors.Is(err, ErrUnknownCA), errors.Is(err, store.ErrNotFound):
		http.Error(w, fmt.Sprintf("no CRL for CA %q", name), http.StatusNotFound)
		return
	case err != nil:
		a.log.ErrorContext(r.Context(), "serve CRL", "ca", name, "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/pkix-crl")
	if crl, err := x509.ParseRevocationList(der); err == nil {
		h.Set("Last-Modified", crl.ThisUpdate.UTC().Format(http.TimeFormat))
		if !crl.NextUpdate.IsZero() {
			h.Set("Expires", crl.NextUpdate.UTC().Format(http.TimeFormat))
			if maxAge := time.Until(crl.NextUpdate) / time.Second; maxAge > 0 {
				// A fresh CRL is published at every revocation: let caches keep
				// it for minutes, not until nextUpdate.
				h.Set("Cache-Control", fmt.Sprintf("public, max-age=%d", min(int64(maxAge), 300)))
			}
		}
	}
	w.Write(der)
}

func (a *Authority) serveCACert(w http.ResponseWriter, r *http.Request) {
	v := mux.Vars(r)
	cert, err := a.CACertificate(v["ca"])
	if err != nil {
		http.Error(w, fmt.Sprintf("no CA certificate %q", v["ca"]), http.StatusNotFound)
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=86400")
	if v["ext"] == "der" {
		w.Header().Set("Content-Type", "application/pkix-cert")
		w.Write(cert.Raw)
		return
	}
	w.Header().Set("Content-Type", "application/x-pem-file")
	w.Write(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}))
}

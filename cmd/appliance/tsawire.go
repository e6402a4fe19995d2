package main

import (
	"context"
	"crypto/x509"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/psre/appliance/ca/tsa"
	"github.com/psre/appliance/hsm"
)

// tsaKeyLabel is the TSA's key on the ca token (ceremony 09-tsa.yaml); its
// certificate is PKI/tsa.pem.
const tsaKeyLabel = "tsa"

// startTSA opens the RFC 3161 timestamp authority when PKI/tsa.pem exists
// (the tsa ceremony ran); without it the appliance serves no /tsa.
func (st *state) startTSA(ctx context.Context, pkiDir string, reg prometheus.Registerer) (*tsa.Responder, error) {
	path := filepath.Join(pkiDir, "tsa.pem")
	if _, err := os.Stat(path); os.IsNotExist(err) {
		return nil, nil
	}
	cert, err := readCertFile(path)
	if err != nil {
		return nil, err
	}
	key, err := st.tok.Signer(ctx, hsm.URI{Token: st.tok.Name(), Object: tsaKeyLabel})
	if err != nil {
		return nil, fmt.Errorf("the TSA key: %w", err)
	}
	st.certs["tsa"] = cert
	return tsa.New(tsa.Config{Signer: key, Certificate: cert, Chain: []*x509.Certificate{st.certs["issuing"], st.certs["root"]},
		Policy: st.settings.TSAPolicyOID, Accuracy: time.Second, Random: st.tok.Random(), Logger: st.log, Registerer: reg,
		OnIssued: func(serial *big.Int, genTime time.Time, _ []byte) {
			st.log.Info("timestamp issued", "serial", serial.Text(16), "gen_time", genTime)
		}})
}

package portal_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/psre/appliance/enrollment"
	"github.com/psre/appliance/hsm"
	"github.com/psre/appliance/hsm/hsmtest"
	softhsmtestdata "github.com/psre/appliance/softhsm-testdata"
	"github.com/psre/appliance/store"
)

// consentsInForce are the product's versions (cmd/appliance), whose texts
// the portal embeds.
var consentsInForce = enrollment.Consents{Issuance: "persetujuan-penerbitan-2026-11", Ownership: "perjanjian-kepemilikan-2026-11"}

// tokenKeys keeps subscriber keys on the real SoftHSM "users" token, as
// cmd/appliance does.
type tokenKeys struct {
	t   testing.TB
	env *hsmtest.Env
	tok *hsm.Token
}

func (k *tokenKeys) GenerateOrFind(ctx context.Context, label string) (crypto.PublicKey, error) {
	s, err := k.tok.Signer(ctx, hsm.URI{Token: k.tok.Name(), Object: label})
	if errors.Is(err, hsm.ErrKeyNotFound) {
		s, _, err = k.tok.GenerateKeyPair(ctx, label, hsm.ECDSAP256)
	}
	if err != nil {
		return nil, err
	}
	return s.Public(), nil
}

// Destroy destroys the pair with hsm.Token.DestroyKeyPair.
func (k *tokenKeys) Destroy(ctx context.Context, label string) error {
	err := k.tok.DestroyKeyPair(ctx, hsm.URI{Token: k.tok.Name(), Object: label})
	if errors.Is(err, hsm.ErrKeyNotFound) {
		return nil
	}
	return err
}

// tool runs OpenSC's pkcs11-tool logged in to the users token (the PIN
// through the environment, never argv), to look at the token with a tool
// nobody here wrote.
func (k *tokenKeys) tool(args ...string) (string, error) {
	module, err := softhsmtestdata.ModulePath()
	if err != nil {
		return "", err
	}
	pin, err := os.ReadFile(filepath.Join(k.env.Dir, "pins", "users"))
	if err != nil {
		return "", err
	}
	cmd := exec.Command("pkcs11-tool", append([]string{"--module", module, "--token-label", "users", "--login", "--pin", "env:USERS_PIN"}, args...)...)
	cmd.Env = append(os.Environ(), "SOFTHSM2_CONF="+k.env.ConfPath, "USERS_PIN="+strings.TrimSpace(string(pin)))
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return "", errors.New("pkcs11-tool " + strings.Join(args, " ") + ": " + err.Error() + ": " + stderr.String())
	}
	return out.String(), nil
}

// count is the number of key objects of type typ (privkey, pubkey) on
// the users token, labelled label if it is not "", as pkcs11-tool lists
// them (its --label does not filter a listing).
func (k *tokenKeys) count(typ, label string) int {
	out, err := k.tool("--list-objects", "--type", typ)
	if err != nil {
		k.t.Fatal(err)
	}
	n, inKey := 0, false
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, " Key Object;") {
			inKey = true
			if label == "" {
				n++
			}
			continue
		}
		if l, ok := strings.CutPrefix(strings.TrimSpace(line), "label:"); ok && inKey && label != "" && strings.TrimSpace(l) == label {
			n++
		}
		if !strings.HasPrefix(line, " ") && !strings.HasPrefix(line, "\t") {
			inKey = false
		}
	}
	return n
}

// testCA is a small software CA (root and issuing CA, Go ECDSA keys) that
// records its certificates in the store as the real CA does, and counts
// what it issued and revoked.
type testCA struct {
	db                *store.DB
	rootCert, cert    *x509.Certificate
	key               *ecdsa.PrivateKey
	mu                sync.Mutex
	issued            map[string][]byte // requester -> DER
	issuedN, revokedN int
	fail              error // the next IssueIndividual fails with it
}

func newTestCA(t testing.TB, db *store.DB) *testCA {
	t.Helper()
	rootKey, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	mk := func(serial int64, cn string, pub crypto.PublicKey, parent *x509.Certificate, signer crypto.Signer) *x509.Certificate {
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{Country: []string{"ID"}, CommonName: cn},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(5 * 365 * 24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
			KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
		if parent == nil {
			parent = tmpl
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := x509.ParseCertificate(der)
		return c
	}
	root := mk(1, "Test PSrE Root CA", rootKey.Public(), nil, rootKey)
	return &testCA{db: db, rootCert: root, cert: mk(2, "Test PSrE Individual CA", key.Public(), root, rootKey), key: key,
		issued: map[string][]byte{}}
}

func (c *testCA) IssueIndividual(_ context.Context, r enrollment.IndividualRequest) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.fail; err != nil {
		c.fail = nil
		return nil, err
	}
	raw := make([]byte, 16)
	_, _ = rand.Read(raw)
	raw[0] &= 0x7f
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: new(big.Int).SetBytes(raw),
		Subject:        pkix.Name{Country: []string{"ID"}, CommonName: r.Name, SerialNumber: r.SubscriberID},
		EmailAddresses: []string{r.Email}, NotBefore: now.Add(-time.Minute), NotAfter: now.Add(365 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, r.PublicKey, c.key)
	if err != nil {
		return nil, err
	}
	cert, _ := x509.ParseCertificate(der)
	tbs := sha256.Sum256(cert.RawTBSCertificate)
	intent := store.CertRecord{Serial: cert.SerialNumber.Text(16), CA: "issuing", Profile: "individual", Requester: r.Requester,
		TBSHash: tbs[:], NotAfter: cert.NotAfter, Created: now}
	if err := c.db.RecordIntent(intent); err != nil {
		return nil, err
	}
	if err := c.db.CompleteIssuance(intent.Serial, intent.TBSHash, der, now); err != nil {
		return nil, err
	}
	c.issued[r.Requester] = der
	c.issuedN++
	return der, nil
}

func (c *testCA) IssuedFor(_ context.Context, requester string) ([]byte, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	der, ok := c.issued[requester]
	return der, ok, nil
}

func (c *testCA) Revoke(_ context.Context, serial string, reason int, actor string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, changed, err := c.db.Revoke(serial, store.Revocation{Reason: reason, Actor: actor, At: time.Now()})
	if changed {
		c.revokedN++
	}
	return err
}

func (c *testCA) Chain() [][]byte { return [][]byte{c.cert.Raw, c.rootCert.Raw} }

// failNext makes the next issuance fail with err.
func (c *testCA) failNext(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fail = err
}

func (c *testCA) counts() (issued, revoked int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.issuedN, c.revokedN
}

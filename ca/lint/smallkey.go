package lint

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"fmt"
	"math/big"
	"sync"

	zx509 "github.com/zmap/zcrypto/x509"
	"github.com/zmap/zlint/v3/lint"
)

// smallKeyLint is the name of zlint's check that an ECDSA private key is not
// tiny (0 < d <= 2^16, or n-d). This package runs the same check with a
// larger table: zlint's baby-step giant-step walk takes ~16 affine point
// additions per certificate, 70% of the cost of linting one; with a table
// of 2^14 baby steps, built once per curve, it takes four.
const smallKeyLint = "e_ecdsa_small_private_key"

// smallKeyBits is the bound zlint applies by default (Bits: 16).
const smallKeyBits = 16

// babySteps is the number of j*G points in the table.
const babySteps = 1 << 14

// smallKeyTables are the per-curve tables, built on first use.
type smallKeyTables struct {
	mu     sync.Mutex
	tables map[elliptic.Curve]*smallKeyTable
}

type smallKeyTable struct {
	curve    elliptic.Curve
	logs     map[string]int64 // X coordinate of j*G -> j, 1 <= j <= babySteps
	strideX  *big.Int         // (2*babySteps+1)*G
	strideNY *big.Int         // -Y of the stride, to subtract it
}

func (s *smallKeyTables) get(c elliptic.Curve) *smallKeyTable {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.tables[c]; ok {
		return t
	}
	t := &smallKeyTable{curve: c, logs: make(map[string]int64, babySteps)}
	p := c.Params()
	x, y := p.Gx, p.Gy
	for j := int64(1); j <= babySteps; j++ {
		t.logs[string(x.Bytes())] = j
		x, y = c.Add(x, y, p.Gx, p.Gy)
	}
	sx, sy := c.ScalarBaseMult(big.NewInt(2*babySteps + 1).Bytes())
	t.strideX, t.strideNY = sx, new(big.Int).Sub(p.P, sy)
	s.tables[c] = t
	return t
}

// smallLog returns d if pub = d*G or pub = -d*G with 0 < d <= 2^bits.
func (t *smallKeyTable) smallLog(pub *ecdsa.PublicKey) *big.Int {
	p := t.curve.Params()
	for _, y := range []*big.Int{pub.Y, new(big.Int).Sub(p.P, pub.Y)} {
		x, yy := pub.X, y
		width := int64(2*babySteps + 1)
		for i := int64(0); i*width <= 1<<smallKeyBits+babySteps; i++ {
			if x.Sign() == 0 && yy.Sign() == 0 { // the point at infinity: d = i*width
				if d := big.NewInt(i * width); d.Sign() > 0 && t.is(d, pub) {
					return d
				}
			} else if j, ok := t.logs[string(x.Bytes())]; ok {
				for _, d := range []*big.Int{big.NewInt(i*width + j), big.NewInt(i*width - j)} {
					if d.Sign() > 0 && d.Cmp(big.NewInt(1<<smallKeyBits)) <= 0 && t.is(d, pub) {
						return d
					}
				}
			}
			x, yy = t.curve.Add(x, yy, t.strideX, t.strideNY)
		}
	}
	return nil
}

// is reports whether d*G is pub or -pub.
func (t *smallKeyTable) is(d *big.Int, pub *ecdsa.PublicKey) bool {
	x, _ := t.curve.ScalarBaseMult(d.Bytes())
	return x.Cmp(pub.X) == 0
}

// check is the lint: an error finding if c's ECDSA key has a tiny private
// scalar.
func (s *smallKeyTables) check(c *zx509.Certificate) *Finding {
	var pub *ecdsa.PublicKey
	switch k := c.PublicKey.(type) {
	case *zx509.AugmentedECDSA:
		pub = k.Pub
	case *ecdsa.PublicKey:
		pub = k
	}
	if pub == nil || pub.Curve == nil || pub.X == nil {
		return nil
	}
	if d := s.get(pub.Curve).smallLog(pub); d != nil {
		return &Finding{Lint: smallKeyLint, Status: lint.Error,
			Details: fmt.Sprintf("the ECDSA private key is %s, or its negation modulo the group order, and so can be trivially recovered by anyone", d)}
	}
	return nil
}

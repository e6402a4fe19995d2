package lint

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/binary"
	"fmt"
	"math/big"
	"slices"
	"sync"

	zx509 "github.com/zmap/zcrypto/x509"
	"github.com/zmap/zlint/v3/lint"
)

// smallKeyLint is the name of zlint's check that an ECDSA private key is not
// tiny (0 < d <= 2^16, or n-d). zlint walks a baby-step giant-step search
// of ~16 affine point additions per certificate (70% of the cost of linting
// one); this package runs the same check with a table of the X coordinates
// of d*G for every d in 1..2^16, built once per curve and process, so that a
// certificate costs one table look-up and no curve arithmetic (a match,
// which no honest key gives, is confirmed with one scalar multiplication).
const smallKeyLint = "e_ecdsa_small_private_key"

// smallKeyBits is the bound zlint applies by default (Bits: 16).
const smallKeyBits = 16

// smallKeyTables are the per-curve tables, built on first use and shared by
// every Linter of the process (they depend on the curve alone).
type smallKeyTables struct {
	mu     sync.Mutex
	tables map[elliptic.Curve]*smallKeyTable
}

var sharedSmallKeyTables = &smallKeyTables{tables: map[elliptic.Curve]*smallKeyTable{}}

// smallKeyTable lists, sorted by x, the top 64 bits of X(d*G) with d for
// 1 <= d <= 2^smallKeyBits. P and -P share X, so a look-up recognises both
// d*G and (n-d)*G.
type smallKeyTable struct {
	curve   elliptic.Curve
	entries []smallKeyEntry
}

type smallKeyEntry struct {
	x uint64
	d uint32
}

func (s *smallKeyTables) get(c elliptic.Curve) *smallKeyTable {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.tables[c]; ok {
		return t
	}
	t := buildSmallKeyTable(c, 1<<smallKeyBits)
	s.tables[c] = t
	return t
}

// buildSmallKeyTable computes d*G for d = 1..m in affine coordinates, in
// rows of lanes: row 0 is 1*G .. w*G, and each further row adds S = w*G to
// every lane, with one modular inversion per row for all w slopes
// (Montgomery's trick), about a hundred times cheaper than m calls of
// elliptic.Curve.Add, which inverts once per addition.
func buildSmallKeyTable(c elliptic.Curve, m int) *smallKeyTable {
	const w = 256
	p := c.Params()
	xs, ys := make([]*big.Int, w), make([]*big.Int, w)
	xs[0], ys[0] = new(big.Int).Set(p.Gx), new(big.Int).Set(p.Gy)
	for k := 1; k < w; k++ {
		xs[k], ys[k] = c.Add(xs[k-1], ys[k-1], p.Gx, p.Gy)
	}
	sx, sy := new(big.Int).Set(xs[w-1]), new(big.Int).Set(ys[w-1]) // S = w*G
	buf := make([]byte, (p.BitSize+7)/8)
	t := &smallKeyTable{curve: c, entries: make([]smallKeyEntry, 0, m)}
	den, prefix := make([]*big.Int, w), make([]*big.Int, w)
	for i := range den {
		den[i], prefix[i] = new(big.Int), new(big.Int)
	}
	inv, lambda, tmp, x3 := new(big.Int), new(big.Int), new(big.Int), new(big.Int)
	for row := 0; ; row++ {
		for k := 0; k < w; k++ {
			d := row*w + k + 1
			if d > m {
				slices.SortFunc(t.entries, func(a, b smallKeyEntry) int {
					switch {
					case a.x < b.x:
						return -1
					case a.x > b.x:
						return 1
					}
					return 0
				})
				return t
			}
			t.entries = append(t.entries, smallKeyEntry{x: top64(xs[k], buf), d: uint32(d)})
		}
		// Next row: (x_k, y_k) + S for every lane. The denominator
		// x_S - x_k is zero only where the lane holds S itself (row 0,
		// last lane): that one is a doubling, left to elliptic.Curve.
		for k := 0; k < w; k++ {
			den[k].Sub(sx, xs[k])
			den[k].Mod(den[k], p.P)
			if den[k].Sign() == 0 {
				den[k].SetInt64(1)
			}
			if k == 0 {
				prefix[k].Set(den[k])
			} else {
				prefix[k].Mul(prefix[k-1], den[k])
				prefix[k].Mod(prefix[k], p.P)
			}
		}
		inv.ModInverse(prefix[w-1], p.P)
		for k := w - 1; k >= 0; k-- {
			// inv is 1/(den_0 ... den_k); 1/den_k = inv * prefix_(k-1).
			var invK big.Int
			if k > 0 {
				invK.Mul(inv, prefix[k-1])
				invK.Mod(&invK, p.P)
				inv.Mul(inv, den[k])
				inv.Mod(inv, p.P)
			} else {
				invK.Set(inv)
			}
			if xs[k].Cmp(sx) == 0 {
				x, y := c.Add(xs[k], ys[k], sx, sy)
				xs[k].Set(x)
				ys[k].Set(y)
				continue
			}
			lambda.Sub(sy, ys[k])
			lambda.Mul(lambda, &invK)
			lambda.Mod(lambda, p.P)
			x3.Mul(lambda, lambda)
			x3.Sub(x3, xs[k])
			x3.Sub(x3, sx)
			x3.Mod(x3, p.P)
			tmp.Sub(xs[k], x3)
			tmp.Mul(tmp, lambda)
			tmp.Sub(tmp, ys[k])
			ys[k].Mod(tmp, p.P)
			xs[k].Set(x3)
		}
	}
}

// top64 is the most significant 64 bits of the coordinate x, encoded in
// buf, which is as wide as the curve's field.
func top64(x *big.Int, buf []byte) uint64 {
	return binary.BigEndian.Uint64(x.FillBytes(buf))
}

// smallLog returns d if pub = d*G or pub = -d*G with 0 < d <= 2^bits.
func (t *smallKeyTable) smallLog(pub *ecdsa.PublicKey) *big.Int {
	p := t.curve.Params()
	if pub.X.Sign() < 0 || pub.X.Cmp(p.P) >= 0 {
		return nil
	}
	key := top64(pub.X, make([]byte, (p.BitSize+7)/8))
	i, _ := slices.BinarySearchFunc(t.entries, key, func(e smallKeyEntry, x uint64) int {
		switch {
		case e.x < x:
			return -1
		case e.x > x:
			return 1
		}
		return 0
	})
	for ; i < len(t.entries) && t.entries[i].x == key; i++ {
		d := big.NewInt(int64(t.entries[i].d))
		x, y := t.curve.ScalarBaseMult(d.Bytes())
		if x.Cmp(pub.X) == 0 && (y.Cmp(pub.Y) == 0 || new(big.Int).Sub(p.P, y).Cmp(pub.Y) == 0) {
			return d
		}
	}
	return nil
}

// check is the lint: an error finding if c's ECDSA key has a tiny private
// scalar. Like zlint's, it applies to every well-formed ECDSA key on its
// curve.
func (s *smallKeyTables) check(c *zx509.Certificate) *Finding {
	if c.PublicKeyAlgorithm != zx509.ECDSA {
		return nil
	}
	var pub *ecdsa.PublicKey
	switch k := c.PublicKey.(type) {
	case *zx509.AugmentedECDSA:
		pub = k.Pub
	case *ecdsa.PublicKey:
		pub = k
	}
	if pub == nil || pub.Curve == nil || pub.X == nil || pub.Y == nil || !pub.Curve.IsOnCurve(pub.X, pub.Y) {
		return nil
	}
	if d := s.get(pub.Curve).smallLog(pub); d != nil {
		return &Finding{Lint: smallKeyLint, Status: lint.Error,
			Details: fmt.Sprintf("the ECDSA private key is %s, or its negation modulo the group order, and so can be trivially recovered by anyone", d)}
	}
	return nil
}

package lint

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"

	zx509 "github.com/zmap/zcrypto/x509"
	zlintlint "github.com/zmap/zlint/v3/lint"
)

// keyWithScalar is the P-256 or P-384 public key of private scalar d.
func keyWithScalar(c elliptic.Curve, d *big.Int) *ecdsa.PublicKey {
	x, y := c.ScalarBaseMult(d.Bytes())
	return &ecdsa.PublicKey{Curve: c, X: x, Y: y}
}

// TestSmallKeyMatchesZlint checks the replacement against zlint's own lint
// on keys inside, at and outside the bound, for both curves.
func TestSmallKeyMatchesZlint(t *testing.T) {
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	zl := zlintlint.GlobalRegistry().CertificateLints().ByName(smallKeyLint)
	if zl == nil {
		t.Fatal("zlint no longer has " + smallKeyLint)
	}
	keys := &smallKeyTables{tables: map[elliptic.Curve]*smallKeyTable{}}
	for _, c := range []elliptic.Curve{elliptic.P256(), elliptic.P384()} {
		n := c.Params().N
		random, _ := ecdsa.GenerateKey(c, rand.Reader)
		scalars := map[string]*big.Int{
			"1": big.NewInt(1), "2": big.NewInt(2), "16384": big.NewInt(16384), "16385": big.NewInt(16385),
			"32769": big.NewInt(32769), "49153": big.NewInt(49153), "49154": big.NewInt(49154), "65535": big.NewInt(65535),
			"65536": big.NewInt(65536), "65537": big.NewInt(65537), "1000000": big.NewInt(1000000),
			"255": big.NewInt(255), "256": big.NewInt(256), "257": big.NewInt(257), "512": big.NewInt(512), "513": big.NewInt(513),
			"65280": big.NewInt(65280), "65281": big.NewInt(65281), "131072": big.NewInt(131072),
			"n-256": new(big.Int).Sub(n, big.NewInt(256)), "n-257": new(big.Int).Sub(n, big.NewInt(257)),
			"n-1": new(big.Int).Sub(n, big.NewInt(1)), "n-65536": new(big.Int).Sub(n, big.NewInt(65536)),
			"n-65537": new(big.Int).Sub(n, big.NewInt(65537)), "random": random.D,
		}
		for name, d := range scalars {
			pub := keyWithScalar(c, d)
			now := time.Now()
			der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "k"},
				NotBefore: now, NotAfter: now.Add(time.Hour)}, &x509.Certificate{Subject: pkix.Name{CommonName: "ca"}}, pub, caKey)
			if err != nil {
				t.Fatal(err)
			}
			zc, err := zx509.ParseCertificate(der)
			if err != nil {
				t.Fatal(err)
			}
			want := zl.Execute(zc, zlintlint.NewEmptyConfig()).Status == zlintlint.Error
			got := keys.check(zc) != nil
			if got != want {
				t.Errorf("%s d=%s: ours reports %v, zlint %v", c.Params().Name, name, got, want)
			}
		}
	}
}

// TestSmallKeyTableExact checks the batched table against d*G computed one
// addition at a time: every d of 1..2^16 on P-256, and the first rows and a
// sample on P-384.
func TestSmallKeyTableExact(t *testing.T) {
	for _, c := range []elliptic.Curve{elliptic.P256(), elliptic.P384()} {
		start := time.Now()
		tab := buildSmallKeyTable(c, 1<<smallKeyBits)
		t.Logf("%s: table built in %v", c.Params().Name, time.Since(start))
		if len(tab.entries) != 1<<smallKeyBits {
			t.Fatalf("%s: %d entries", c.Params().Name, len(tab.entries))
		}
		byD := make(map[uint32]uint64, len(tab.entries))
		for _, e := range tab.entries {
			byD[e.d] = e.x
		}
		p := c.Params()
		limit := 1 << smallKeyBits
		if c == elliptic.P384() && testing.Short() {
			limit = 1024
		}
		x, y := p.Gx, p.Gy
		for d := 1; d <= limit; d++ {
			if got, want := byD[uint32(d)], top64(x, make([]byte, (p.BitSize+7)/8)); got != want {
				t.Fatalf("%s: d=%d: table %x, want %x", p.Name, d, got, want)
			}
			x, y = c.Add(x, y, p.Gx, p.Gy)
		}
		for _, d := range []int64{65535, 65536, 40000, 12345} {
			x, _ := c.ScalarBaseMult(big.NewInt(d).Bytes())
			if got, want := byD[uint32(d)], top64(x, make([]byte, (p.BitSize+7)/8)); got != want {
				t.Fatalf("%s: d=%d: table %x, want %x", p.Name, d, got, want)
			}
		}
	}
}

package ceremony_test

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/psre/appliance/ca/ceremony"
	"github.com/psre/appliance/hsm"
)

// objectBlock returns the lines pkcs11-tool printed for the object of the
// given kind ("Private Key Object", ...) and label, or "".
func objectBlock(listing, kind, label string) string {
	var cur []string
	var blocks []string
	for _, line := range strings.Split(listing, "\n") {
		if strings.Contains(line, " Object;") && len(cur) > 0 {
			blocks = append(blocks, strings.Join(cur, "\n"))
			cur = nil
		}
		cur = append(cur, line)
	}
	blocks = append(blocks, strings.Join(cur, "\n"))
	for _, b := range blocks {
		if strings.HasPrefix(b, kind+";") && strings.Contains(b, "label:      "+label+"\n") {
			return b
		}
	}
	return ""
}

// TestKeyCeremonies generates one key of each algorithm and checks it with
// the hsm package, pkcs11-tool and openssl.
func TestKeyCeremonies(t *testing.T) {
	f := newFixture(t, "ca")
	ctx := context.Background()
	tests := []struct {
		alg        hsm.Algorithm
		opensslPub []string // what `openssl pkey -pubin -text` prints
	}{
		{hsm.ECDSAP256, []string{"Public-Key: (256 bit)", "NIST CURVE: P-256"}},
		{hsm.ECDSAP384, []string{"Public-Key: (384 bit)", "NIST CURVE: P-384"}},
		{hsm.RSA3072, []string{"Public-Key: (3072 bit)", "Exponent: 65537"}},
		{hsm.AES256, nil},
	}
	for _, tc := range tests {
		t.Run(string(tc.alg), func(t *testing.T) {
			label := "key-" + string(tc.alg)
			pubPath := filepath.Join(f.pki, label+".pub.pem")
			text := edit(t, keyYAML, "object=audit", "object="+label, "algorithm: ecdsa-p256", "algorithm: "+string(tc.alg), "audit.pub.pem", label+".pub.pem")
			if tc.alg.IsSymmetric() {
				text = edit(t, text, "outputs:\n  public_key: "+label+".pub.pem\n", "outputs: {}\n")
			}
			cfgPath := filepath.Join(f.pki, label+".yaml")
			res := f.mustRun(label+".yaml", text)

			if res.KeyURI.Token != "ca" || res.KeyURI.Object != label || len(res.KeyURI.ID) != 16 {
				t.Errorf("key URI %s: want token ca, object %s and a 16-byte id", res.KeyURI, label)
			}
			// The protection attributes, read back by the hsm package.
			var tokenPub any
			f.withToken("ca", func(tok *hsm.Token) {
				attrs, err := tok.Attributes(ctx, res.KeyURI)
				if err != nil {
					t.Fatal(err)
				}
				if !attrs.Protected() {
					t.Errorf("attributes %+v: want token, private, sensitive, always sensitive, never extractable", attrs)
				}
				if tc.alg.IsSymmetric() {
					kek, err := tok.KEK(ctx, res.KeyURI)
					if err != nil {
						t.Fatal(err)
					}
					sealed, err := kek.Seal([]byte("NIK 3171234567890001"), []byte("applicant/1"))
					if err != nil {
						t.Fatal(err)
					}
					if plain, err := kek.Open(sealed, []byte("applicant/1")); err != nil || string(plain) != "NIK 3171234567890001" {
						t.Errorf("KEK round trip: %q, %v", plain, err)
					}
					return
				}
				s, err := tok.Signer(ctx, res.KeyURI)
				if err != nil {
					t.Fatal(err)
				}
				if got := hsm.AlgorithmOf(s.Public()); got != tc.alg {
					t.Errorf("token key is %q, want %s", got, tc.alg)
				}
				tokenPub = s.Public()
			})

			// The same, seen by OpenSC.
			listing := f.objects("ca")
			kinds := []string{"Private Key Object", "Public Key Object"}
			if tc.alg.IsSymmetric() {
				kinds = []string{"Secret Key Object"}
			}
			for _, kind := range kinds {
				if objectBlock(listing, kind, label) == "" {
					t.Errorf("pkcs11-tool lists no %s labelled %s:\n%s", kind, label, listing)
				}
			}
			if b := objectBlock(listing, kinds[0], label); !strings.Contains(b, "sensitive, always sensitive, never extractable") {
				t.Errorf("pkcs11-tool shows the key as:\n%s", b)
			}

			if tc.alg.IsSymmetric() {
				mustNotExist(t, pubPath)
				if len(res.Outputs) != 0 {
					t.Errorf("outputs %v for an AES key", res.Outputs)
				}
			} else {
				der := readDER(t, pubPath, "PUBLIC KEY")
				pub, err := x509.ParsePKIXPublicKey(der)
				if err != nil {
					t.Fatal(err)
				}
				if eq, ok := pub.(interface{ Equal(crypto.PublicKey) bool }); !ok || !eq.Equal(tokenPub) {
					t.Errorf("public key file differs from the token's key")
				}
				if want := map[string]string{pubPath: sha256hex(der)}; !reflect.DeepEqual(res.Outputs, want) {
					t.Errorf("outputs %v, want %v", res.Outputs, want)
				}
				text := openssl(t, "pkey", "-pubin", "-in", pubPath, "-noout", "-text")
				for _, w := range tc.opensslPub {
					if !strings.Contains(text, w) {
						t.Errorf("openssl pkey does not show %q:\n%s", w, text)
					}
				}
			}

			// The transcript lines of this ceremony.
			cfgData, err := os.ReadFile(cfgPath)
			if err != nil {
				t.Fatal(err)
			}
			var mine []ceremony.Entry
			for _, e := range readTranscript(t, filepath.Join(f.pki, "transcript.jsonl")) {
				if e.ConfigSHA256 == sha256hex(cfgData) {
					mine = append(mine, e)
				}
			}
			want := []string{"validated", "login", "generate_key", "check_attributes", "write_output", "done"}
			if tc.alg.IsSymmetric() {
				want = []string{"validated", "login", "generate_key", "check_attributes", "done"}
			}
			if got := steps(mine); !reflect.DeepEqual(got, want) {
				t.Errorf("transcript steps %v, want %v", got, want)
			}

			// Running the same ceremony again is refused by label, before
			// anything is created.
			before := f.objects("ca")
			again := text
			if !tc.alg.IsSymmetric() {
				again = edit(t, text, label+".pub.pem", label+".again.pem")
			}
			_, _, err = f.runIn(f.pki, label+"-again.yaml", again)
			if !errors.Is(err, hsm.ErrLabelExists) {
				t.Errorf("second run: want ErrLabelExists, got %v", err)
			}
			mustNotExist(t, filepath.Join(f.pki, label+".again.pem"))
			if after := f.objects("ca"); after != before {
				t.Errorf("second run changed the token:\n%s\n---\n%s", before, after)
			}
		})
	}
	// Keys of other labels are untouched by all this.
	if got := f.labels("ca"); len(got) != 7 {
		t.Errorf("token ca holds %d objects, want 7 (3 key pairs, 1 secret key): %v", len(got), got)
	}
}

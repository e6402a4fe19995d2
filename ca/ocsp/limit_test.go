package ocsp_test

import (
	"context"
	"crypto"
	"math/big"
	"testing"

	xocsp "golang.org/x/crypto/ocsp"

	"github.com/psre/appliance/ca/ocsp"
)

// TestLiveSigningIsBounded: with every live-signing slot taken, a nonce
// request gets the pre-signed response without the nonce, and an unknown
// serial gets tryLater; nothing waits for the HSM.
func TestLiveSigningIsBounded(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	r := f.responder(t, nil, nil)
	leaf := f.leaf(t, 0x4001, false)
	f.status.set(0x4001, ocsp.CertStatus{Status: xocsp.Good})
	plainReq := f.request(t, leaf, crypto.SHA1)
	cached, _, err := r.Respond(ctx, plainReq)
	if err != nil {
		t.Fatal(err)
	}
	release := ocsp.TakeLiveSlots(r)
	defer release()
	resp, live, err := r.Respond(ctx, withNonce(t, plainReq, []byte("0123456789abcdef")))
	if err != nil || live || string(resp) != string(cached) {
		t.Fatalf("nonce request under load: live=%v err=%v, want the cached response", live, err)
	}
	unknown := *leaf
	unknown.SerialNumber = big.NewInt(0x4002)
	resp, _, err = r.Respond(ctx, f.request(t, &unknown, crypto.SHA1))
	if err == nil || string(resp) != string(xocsp.TryLaterErrorResponse) {
		t.Fatalf("unknown serial under load: %x, %v; want tryLater", resp, err)
	}
}

// TestSerialBounds: serials that cannot have been issued are refused
// before anything is signed.
func TestSerialBounds(t *testing.T) {
	f := newFixture(t)
	r := f.responder(t, nil, nil)
	leaf := f.leaf(t, 0x4003, false)
	for name, serial := range map[string]*big.Int{
		"zero":     big.NewInt(0),
		"negative": big.NewInt(-5),
		"21 bytes": new(big.Int).Lsh(big.NewInt(1), 20*8),
	} {
		parsed, err := xocsp.ParseRequest(f.request(t, leaf, crypto.SHA1))
		if err != nil {
			t.Fatal(err)
		}
		parsed.SerialNumber = serial
		req, err := parsed.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		resp, _, err := r.Respond(context.Background(), req)
		if err == nil || string(resp) != string(xocsp.MalformedRequestErrorResponse) {
			t.Errorf("%s serial: %x, %v; want malformedRequest", name, resp, err)
		}
	}
}

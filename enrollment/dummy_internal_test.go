package enrollment

import "testing"

// The dummy hash must cost a real verification, or a failed login would
// tell by its speed that the account does not exist.
func TestDummyHashIsAValidHash(t *testing.T) {
	ok, err := VerifyPassword(dummyHash, "anything")
	if err != nil || ok {
		t.Fatalf("dummy hash: ok=%v err=%v; want a valid hash that matches nothing", ok, err)
	}
}

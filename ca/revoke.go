package ca

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Reasons are the RFC 5280 CRLReason codes by name that this CA uses. Not
// here: certificateHold (6), since a revocation here is final and the CA/B
// Forum requirements forbid holds; removeFromCRL (8), which only appears in
// delta CRLs; 7 is unused.
var Reasons = map[string]int{
	"unspecified": 0, "keyCompromise": 1, "cACompromise": 2, "affiliationChanged": 3,
	"superseded": 4, "cessationOfOperation": 5,
	"privilegeWithdrawn": 9, "aACompromise": 10,
}

// ParseReason reads a reason name.
func ParseReason(s string) (int, error) {
	if code, ok := Reasons[s]; ok {
		return code, nil
	}
	names := make([]string, 0, len(Reasons))
	for n := range Reasons {
		names = append(names, n)
	}
	sort.Strings(names)
	return 0, fmt.Errorf("%w: %q is not an RFC 5280 revocation reason (use one of %s)", ErrBadRequest, s, strings.Join(names, ", "))
}

var oidInvalidityDate = asn1.ObjectIdentifier{2, 5, 29, 24}

// invalidityDateExtension is the CRL entry extension of RFC 5280 5.3.2.
func invalidityDateExtension(t time.Time) (pkix.Extension, error) {
	v, err := asn1.MarshalWithParams(t.UTC(), "generalized")
	if err != nil {
		return pkix.Extension{}, fmt.Errorf("encode invalidity date: %w", err)
	}
	return pkix.Extension{Id: oidInvalidityDate, Value: v}, nil
}

// Package hsm is the appliance's only door to the PKCS#11 hardware security
// module.
//
// It opens a PKCS#11 module by path, selects a token by label or serial,
// logs in with a PIN taken from a file, an environment variable or a
// terminal prompt (never a default), generates keys that are sensitive and
// non-extractable with CKA_ID values drawn from the token's RNG, and hands
// out crypto.Signer values, an AES-GCM sealer for the key-encryption key and
// the token RNG as an io.Reader.
//
// Keys are named by RFC 7512 URIs (see ParseURI). Signatures run through
// crypto11's bounded session pool. PKCS#11 return codes are mapped to typed
// errors that say what the operator should do (see the Err* values and
// Classify). When an operation fails with an error that means the sessions
// are gone (CKR_SESSION_HANDLE_INVALID, CKR_DEVICE_ERROR,
// CKR_TOKEN_NOT_PRESENT, ...), the Token re-opens its sessions and logs in
// again, so the next operation succeeds once the device is back.
//
// Invariant: one Module per PKCS#11 library path per process. crypto11
// reference-counts the library per path; Module serialises the moments where
// this package initialises or finalises the library itself (token listing,
// token initialisation) so that the two never race.
package hsm

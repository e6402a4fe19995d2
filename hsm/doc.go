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
//
// Subscriber keys (one ECDSA P-256 key per subscriber on the users token) go
// through SubscriberKeys, not Token.Signer and Token.GenerateKeyPair.
// SoftHSM2, like many PKCS#11 modules, answers C_FindObjects by visiting
// every object of the token (re-checking each object's file), and the Token
// finds keys by label: a look-up is three searches, a generation's label
// check two, so both grow linearly with the number of keys
// (BenchmarkSubscriberKeyScale, 2 cores: at 100,000 keys a look-up takes
// about 20 s and a generation 14 s, where a signature takes 0.1 ms).
// SubscriberKeys enumerates the token once, when it opens and after each
// reconnect, keeps every key's object handles by label in memory, updates
// them on its own Generate and Destroy, and signs with the handle
// (C_SignInit and C_Sign on sessions of its own). Look-up and label check
// are then map look-ups and cost the same with 100 or 100,000 keys; a
// look-up (the first reads the public key) plus a signature stays at about
// 2.5 raw signatures. The keys stay token objects, sensitive and never
// extractable, and Destroy removes them from the token, so a revoked
// subscriber's key is gone. The price: the enumeration (about 0.3 ms per key
// pair on SoftHSM2, 30 s for 100,000; subscriber operations wait for it
// after a reconnect), the index in memory, and one writer: keys created or
// destroyed on the token by other means are seen only after Refresh.
// Rejected: a bounded cache of crypto11 signers (most subscribers sign
// rarely, so most look-ups would still search the token); and keys kept
// outside the token wrapped under a KEK (C_UnwrapKey for each use). That is
// flat as well, and is what HSMs with small object stores need, but the keys
// become CKA_EXTRACTABLE: only a trusted KEK (CKA_TRUSTED, set by the
// security officer) with CKA_WRAP_WITH_TRUSTED and an unwrap template the
// HSM enforces keeps a holder of the user PIN from unwrapping a stored blob
// as extractable and reading it; and destroying a key would mean erasing
// every copy of its blob, backups included.
package hsm

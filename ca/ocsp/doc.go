// Package ocsp is the appliance's OCSP responder (RFC 6960), following the
// lightweight profile of RFC 5019 (and its update, RFC 9919).
//
// Each CA it serves answers through a delegated responder certificate
// (id-kp-OCSPSigning, ocsp-nocheck) whose key stays in the HSM. Responses
// name the responder by key hash (ResponderID byKey: the SHA-1 of the
// responder's subjectPublicKey, RFC 6960 4.2.1), which is short and stays
// the same when the responder certificate is renewed on the same key, and
// carry the responder certificate so clients can check the delegation.
//
// Requests without a nonce get a pre-signed response: from memory, else from
// the persistent Cache (the bbolt store), else signed now and kept in both.
// A response is signed again once less than half of its lifetime is left
// (on the next request, or by Refresh on a schedule), after issuance
// (Presign) and at once after revocation (Invalidate). Concurrent requests
// for the same certificate wait for one signature instead of each signing.
// Responses for unknown serials are signed for each request and never
// stored, so that requests for made-up serials cannot fill the store.
// Cached responses are kept per CertID hash algorithm (SHA-1 and SHA-256),
// because a client matches the response's CertID against its request.
//
// A request with a nonce (RFC 8954, 1 to 32 octets) gets a response signed
// for it, with the same nonce extension in its responseExtensions. The
// golang.org/x/crypto/ocsp package reads the CertID but neither reads
// request extensions nor writes response extensions, and its CreateResponse
// takes producedAt from the wall clock; so this package parses the request
// extensions and builds every BasicOCSPResponse itself with encoding/asn1,
// one code path for cached and nonce responses. Every HSM signature is
// verified against the responder certificate before it is served or stored.
//
// Errors follow RFC 5019: a request that cannot be parsed gets
// malformedRequest, one for an issuer not served here unauthorized, and a
// failing status lookup or HSM internalError; all with HTTP 200 and
// Cache-Control: no-store. Successful responses carry the RFC 5019 section
// 6 caching headers (Last-Modified, Expires, max-age, ETag), except nonce
// responses, which are unique and marked no-cache, no-store.
package ocsp

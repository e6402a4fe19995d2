// Package tsa is the appliance's time-stamping authority: an RFC 3161
// responder whose key stays in the HSM. It serves
// application/timestamp-query over HTTP POST (RFC 3161 section 3.4) and
// time-stamps in process for the PDF signer (PAdES B-T: a
// signature-time-stamp over the signature value, Timestamp).
//
// A token is CMS SignedData (RFC 5652) over a TSTInfo (content type
// id-ct-TSTInfo) with the signed attributes contentType, messageDigest
// and ESS signing-certificate-v2 (RFC 5816, SHA-256 of the TSA
// certificate with its issuer and serial). TSTInfo carries the configured
// policy, the request's message imprint, a serial of 127 random bits from
// the HSM's RNG, genTime in UTC to the second (GeneralizedTime), the
// configured accuracy, ordering false, the request's nonce and the TSA's
// name (its certificate subject). When the request sets certReq, the token
// carries the TSA certificate and the configured chain.
//
// Refusals are TimeStampResp messages with status rejection and a
// failInfo: badDataFormat for anything that does not parse as a version 1
// request with one hashed message of the right length, badAlg for a hash
// other than SHA-256, SHA-384 or SHA-512 (MD5 and SHA-1 included),
// unacceptedPolicy for a requested policy other than ours,
// unacceptedExtension for any request extension (none is supported), and
// systemFailure when the HSM fails or the TSA certificate is not valid at
// genTime. HTTP-level mistakes get HTTP errors: 405 for a method other than
// POST, 415 for another content type, 413 for a body over 16 KiB.
//
// Tokens are built here with encoding/asn1 rather than with
// github.com/digitorus/timestamp, whose CreateResponseWithOpts draws the
// serial from crypto/rand (not the HSM, and without returning it to the
// caller), hashes the certificate for signing-certificate-v2 with the
// request's imprint algorithm (so a SHA-1 imprint fails and a SHA-512 one
// gives a SHA-512 ESSCertIDv2), and whose ParseRequest reports an unknown
// hash and a malformed request alike. Every HSM signature is verified
// against the TSA certificate before a token leaves the package.
package tsa

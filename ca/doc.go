// Package ca issues and revokes the appliance's certificates.
//
// Every certificate goes one way: the profile prepares the template, the
// TBSCertificate is encoded once (byte for byte as crypto/x509 would, see
// tbs.go), zlint checks the certificate made of those bytes, the CA's
// signature algorithm and a placeholder signature value (any error or
// warning refuses the request, naming the lints), an issuance intent is
// recorded in the store (serial, profile, requester, SHA-256 of the TBS),
// the HSM signs exactly those TBS bytes, the certificate is parsed, its TBS
// compared with the linted one and its signature verified against the CA
// certificate, and it is stored in the intent's record before it is
// returned. A crash between intent and store leaves an intent that
// Reconcile reports and closes at start-up; an intent is never signed
// twice.
//
// Concurrent issuances share their store commits (store's group
// committer), so a certificate is durable before it is handed out at a
// cost of about two fdatasync shared by all the issuances in flight.
package ca

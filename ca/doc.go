// Package ca issues and revokes the appliance's certificates.
//
// Every certificate goes one way: the profile prepares the template, zlint
// checks it signed by a throwaway key of the CA's type (any error or warning
// refuses the request, naming the lints), an issuance intent is recorded in
// the store (serial, profile, requester, SHA-256 of the TBS), the HSM signs,
// the signature and the TBS are checked against the linted ones, and the
// certificate is stored in the intent's record. A crash between intent and
// store leaves an intent that Reconcile reports and closes at start-up; an
// intent is never signed twice.
package ca

// Package console is the officers' console: the customer service (CS),
// registration authority (RA) and auditor pages, served on their own
// listener with mutual TLS.
//
// # Authentication
//
// Officers present a TLS client certificate issued by the admin CA
// (profile "officer", id-kp-clientAuth). TLSConfig makes the listener
// require one and accept only the admin CA; the handler checks again on
// every request (defence in depth, and the only check when the handler is
// misused behind plain HTTP): the verified leaf must be signed by the admin
// CA itself, carry id-kp-clientAuth and be within its validity; the officer
// record, keyed by the lower-case hex SHA-256 of the certificate DER, must
// be active; and the certificate record (serial as the CA stores it,
// lower-case hex without leading zeros) must hold the same DER with status
// good. Anything else is a 403 "akses ditolak" page. Session tickets are
// off, so every connection makes a full handshake.
//
// # Authorisation
//
// Routes under /cs/, /ra/ and /audit/ need the roles cs, ra and auditor; an
// officer of another role gets 403. / redirects to the officer's home.
// Every transition goes through enrollment.Service, which checks the role,
// the officer's status and segregation of duties again inside its
// transaction; the console checks the rules it can see before calling it
// (the officer's own email or NIK, the payment confirmer approving, the
// same RA approving twice) so that a refusal never depends on one layer.
// Auditors are read-only: their only POST is /audit/verify.
//
// # Pages
//
// Server-side html/template in Bahasa Indonesia (default) and English
// (?lang=en sets a cookie), no JavaScript at all, CSRF tokens
// (gorilla/csrf, Secure __Host- cookie) on every form, a strict
// Content-Security-Policy, Cache-Control: no-store on every response
// (the pages hold personal data), and 64 KiB request bodies. After a POST
// the console redirects (303) to the queue with a flash message named by a
// catalog key in the query, or re-renders the form with the message (400).
//
// Requests are logged with their route pattern, status and officer name,
// never a path or form value (they may carry personal data), and counted in
// appliance_console_requests_total{route,code} and
// appliance_console_auth_failures_total{reason}.
//
// # The audit page
//
// audit.List reads forward only, so the newest-first page scans the
// matching records below the "before" cursor keeping the last page-full:
// linear in the log's length. A descending List (Filter.BeforeSeq) in
// package audit would make it proportional to the page.
package console

// Package portal is the applicant portal: server-rendered pages for seed
// steps 1 to 7 (../shared/seed/digisign-certificate-flow.md) — the landing
// page, the three-step registration wizard ("Identitas Pribadi", "Informasi
// Akun", "Foto dan Tandatangan" with "Simpan Data"), login, logout and the
// account page with the application's state — and the applicant's side of
// steps 8 to 16: "Ajukan Verifikasi" (POST /account/verification), CS's
// invoice on the account page and printable at /account/invoice (due
// dates in WIB), the proof of payment (POST /account/payment-proof, an
// image or a PDF checked by upload.CleanProof), the RA's reason, the
// corrections of exactly the fields the RA named (/account/corrections),
// and the activation link /aktivasi?token=..., which needs the owner's
// login and is checked but not consumed until its "Aktivasi" button is
// pressed (POST /aktivasi, the token in the body).
//
// Activation (seed steps 17 to 20): "Verifikasi Email" (/aktivasi/email)
// takes the emailed code; "Verifikasi Nomor Handphone" (/aktivasi/telepon)
// shows the masked phone, both consent texts in full with a checkbox each
// and the versions in hidden fields, and takes the SMS code ("Proses Kode
// OTP"); each page has "Kirim ulang kode" (…/kirim-ulang). The consent
// texts are versioned files, consent/<version>.<lang>.html, for the
// versions the service has in force (New refuses to start without them).
// A malformed code or a missing consent is refused here and costs nothing;
// a second submission finishes the same issuance. The account page links
// the step an activation is at, so it resumes after a logout.
//
// "Account Setting > Profile" (seed step 22, /account/profile) shows the
// applicant's data and certificate (subject, serial, validity in WIB,
// status, SHA-256 fingerprint) with "Download Certificate" as PEM, DER
// (.cer) and a certs-only PKCS#7 with the issuing CA and the root (.p7b),
// and "Cabut Sertifikat": an SMS code (POST /account/revoke/code), then
// the password, the code and the reason (POST /account/revoke).
// Everything goes through enrollment.Service; the store is only read
// (the account pages). Every account route is the caller's own
// application: the applicant id comes from the session, never the request.
//
// Language: Bahasa Indonesia by default, English by ?lang=en on any page
// (a cookie keeps the choice). Every text shown is in messages/{id,en}.json,
// keyed as the identity and upload packages name their errors.
//
// State: the wizard is held in memory on the server, in a session named by
// an opaque random cookie (32 bytes from crypto/rand), never in hidden
// fields. Sessions expire after 30 minutes idle; their number and the bytes
// of images they hold are bounded, the least recently used going first. A
// restart loses them. Login replaces the session with a new id.
//
// Cookies are HttpOnly, Secure with Config.Secure (then __Host- prefixed)
// and SameSite=Lax. Lax rather than Strict: links into the portal from
// email (the activation link of seed step 16) and from the provider's web
// site are cross-site navigations, and under Strict a logged-in applicant
// would arrive looking logged out. Lax already keeps the cookie off
// cross-site POSTs, frames and subresource requests; every change of state
// is a POST checked by gorilla/csrf, and a GET changes nothing but the
// caller's language cookie or starts an empty wizard.
//
// Referrer-Policy is same-origin, not no-referrer: under no-referrer
// Chromium sends "Origin: null" with every form POST (checked with
// chromium 156), which gorilla/csrf v1.7.3 refuses as a foreign origin.
//
// Web hygiene: a strict CSP without inline script or style (scripts are
// small files under /static/ for the webcam and the signature pad only),
// nosniff, frame-ancestors 'none', Cache-Control no-store on every page,
// HSTS with Config.Secure, body limits (64 KiB forms, one image plus 64
// KiB on the upload routes, three on the correction form), images and
// payment proofs checked a few at a time and re-encoded (images) by
// upload.Clean before they are kept. Logs carry the route pattern, status
// and applicant id, never a NIK, name, email, phone, form value or query
// string (the activation token is in one). After a login the applicant
// returns to the local page named by ?next= (so the activation link works
// from a logged-out browser); anything that could leave the site is
// ignored.
//
// The client address used for login throttling is the TCP peer: behind a
// reverse proxy every applicant would share the proxy's address.
package portal

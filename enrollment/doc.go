// Package enrollment is the applicant's side of the certificate flow of
// ../shared/seed/digisign-certificate-flow.md: registration ("Identitas
// Pribadi", "Informasi Akun", "Foto dan Tandatangan", "Simpan Data"), login
// and the application's state. Every face (the portal now, the console
// later) goes through Service; no handler writes a record directly.
//
// Personal data is sealed before it reaches the store: the NIK, the birth
// date, the KTP photo, the selfie and the signature specimen are each
// encrypted under a data key of their own that the HSM KEK wraps, and the
// NIK, email and phone are indexed only by keyed hash. Nothing personal is
// logged.
package enrollment

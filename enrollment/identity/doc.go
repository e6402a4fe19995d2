// Package identity validates the personal and account data an applicant
// types into the enrollment portal: the "Identitas Pribadi" step (NIK and
// birth date from the KTP) and the "Informasi Akun" step (username,
// password, mobile number).
//
// Every check is a pure function of its arguments (the current time is
// passed in), uses only the standard library and returns an error that
// wraps one sentinel, so callers branch with errors.Is and look up the text
// shown to the applicant with MessageKey, which yields a key for the message
// catalogs such as "nik.length" or "phone.invalid".
//
// Error texts never contain the values that were checked: a NIK, a birth
// date, a phone number, a username or a password is personal data and must
// not reach logs through an error message.
//
// Known limits:
//   - Only the 38 province codes are bundled (see provinces.go). Regency
//     (kabupaten/kota) and district (kecamatan) codes are only checked for
//     not being "00"; a NIK with a non-existent regency or district passes.
//     Only Dukcapil can say that a NIK has actually been issued.
//   - The minimum age is 17, the age at which a KTP is issued; people who
//     married younger also hold a KTP and are refused (see MinAge).
//   - The common-password list is a small hand-made list
//     (common_passwords.txt), not a maintained one.
package identity

// Package audit is the appliance's append-only, hash-chained audit log,
// with checkpoints signed by the HSM audit key (pkcs11:token=ca;object=audit).
//
// # Records
//
// Every action appends one Record in its own bbolt write transaction
// (Log.Append takes the caller's *bolt.Tx): the action and its record
// commit together or not at all. Records live in bucket "audit" under their
// 8-byte big-endian sequence number, as JSON; seq 1 is the first. Each
// record's Hash is the SHA-256 of a canonical encoding of its other fields
// (domain tag, seq, time in Unix nanoseconds, length-prefixed actor, action
// and object, the details sorted by key, and the previous record's hash),
// so the hash never depends on JSON formatting or map order. Prev of record
// 1 is 64 zero hex digits.
//
// Details must not hold personal data: Append refuses keys that name it
// (name, email, phone, birth, photo, selfie, specimen, password, otp, nik,
// and their Indonesian forms) and bounds their number and size. Keys are
// restricted to [a-z0-9_.-]; values cannot be inspected for meaning, so
// callers record identifiers (application ids, serials), never values the
// applicant typed. Strings must be valid UTF-8: JSON would silently replace
// invalid bytes and the stored record would no longer match its hash.
//
// # Checkpoints
//
// When Every records (default 100) have passed since the last checkpoint,
// Append signs a Checkpoint of the new record's hash with the audit key in
// the same transaction, so a crash can never lose one; if the HSM fails,
// Append fails and so does the action: the log is never bypassed.
// Log.Checkpoint, called at shutdown, signs one over the tail. Checkpoints
// live in bucket "audit_checkpoints"; bucket "audit_meta" holds the head
// (last seq, its hash, last checkpoint seq). The signature is ASN.1 ECDSA
// over SHA-256 of a domain tag, seq, time and the raw 32-byte hash.
//
// Log keeps no state of the log in memory: Append reads the head inside
// the transaction, so a rolled-back transaction leaves nothing behind,
// concurrent appends through db.Update or db.Batch serialise on bbolt's
// writer lock, and several Logs (service and CLI) can share a file. Append
// refuses to continue a log whose head does not match its last record
// (ErrInconsistent): a damaged log stops the appliance's actions rather
// than grow past the damage.
//
// # Verification
//
// Verify walks the whole log and returns a *BrokenError naming the first
// broken record or missing checkpoint in sequence order (see Verify for
// the checks). What it cannot see: the unsigned tail after the last
// checkpoint is protected by the chain alone, and someone with write access
// to the file who deletes records, checkpoints and head consistently back
// to an earlier checkpoint leaves a shorter log that verifies. The metric
// appliance_audit_last_checkpoint_sequence, scraped by Prometheus, is the
// outside record that shows such a truncation (it goes down). Record times
// going backwards are counted in the Report, not treated as tampering: the
// hash covers them, a clock step causes them, and an append-only log could
// never be repaired if they broke it.
//
// The package depends on bbolt, Prometheus and the standard library only;
// the audit key is any crypto.Signer with an ECDSA key (hsm.Signer in the
// appliance).
package audit

// Package notify sends the applicant's emails and SMS through a durable
// outbox in bbolt.
//
// # Outbox
//
// A state change and the notifications it causes are one transaction: the
// caller's bbolt write transaction calls Enqueue, so a message exists if and
// only if the change committed, and a crash before delivery loses nothing
// (the next Dispatcher finds the message pending). Records live in bucket
// "outbox" (8-byte big-endian id from NextSequence -> JSON Record).
//
// Improvement over the first design: a second bucket, "outbox_pending"
// (id -> channel), indexes the pending records, so a delivery pass and the
// pending gauge read only what is waiting, not the whole history. Sent and
// failed records stay for the mailbox and for audit; Purge deletes old ones
// (they hold personal data and OTP codes, so production should purge).
//
// # Delivery
//
// The Dispatcher's RunOnce sends every due pending message in id order, one
// at a time, and records each outcome in its own transaction: sent, a retry
// after a backoff (30 s doubling to 1 h by default) or, after MaxAttempts
// (12) failures or a Permanent error (an SMTP 5xx on RCPT or on the end of
// DATA, an invalid message), failed. An attempt cut short because the
// dispatcher is shutting down does not count. Run loops over RunOnce and
// sleeps until the earliest retry, a Wake (call it after the commit that
// enqueued) or the poll interval (1 min, a safety net for a missed Wake).
//
// Delivery is at least once. If the process dies after the SMTP server
// accepted a message but before the "sent" mark is committed, the message
// is sent again after restart — with the same Message-ID, which is fixed
// at enqueue (Record.MessageID, "outbox-<id>.<random>", completed with
// "@" and the domain of the sender's From address), and the same Date (the
// record's creation time), so mail systems and readers can tell it is the
// same message. SMS has no such identifier; a duplicate OTP SMS carries
// the same code.
//
// Nothing personal is logged: logs carry the outbox id, kind, channel,
// attempt and an error class from a fixed vocabulary, never addresses,
// bodies, codes or error texts (a server's reply may echo an address).
// Record.LastError keeps the error text in the database, next to the
// message it concerns.
//
// # Senders
//
// SMTPSender builds a MIME message (multipart/alternative text and HTML,
// multipart/mixed with attachments, UTF-8, quoted-printable, base64
// attachments, Q-encoded subject) and submits it with emersion/go-smtp,
// one connection per message. STARTTLS is required unless AllowNoTLS is
// set — the design's "RequireTLS bool, default true" is inverted so that
// the zero value is the safe one — and credentials (AUTH PLAIN, password
// read from a file at each send) are never sent without TLS, whatever the
// configuration. ImplicitTLS serves port 465. The context bounds the whole
// conversation: when it ends the connection is closed.
//
// SMSGateway posts to an HTTP SMS provider: URL, method, content type and
// a text/template body over {To, Text} with a json helper; an API key
// header read from a file. A non-2xx answer is an error that is retried
// (GatewayStatusError: status code and at most 200 bytes of the answer).
//
// DevSender, for the demo, sends nothing and reports success; the messages
// are read in the development mailbox (MailboxHandler, mounted at
// MailboxPath by the demo only; it serves absolute paths, no StripPrefix).
//
// # Templates
//
// Templates renders the embedded text/template and html/template files of
// templates/ for every kind in Indonesian ("id", the default) and English
// ("en"): subject and text in <lang>/<kind>.txt, HTML body in
// <lang>/<kind>.html inside layout.html. Data is one of the *Data types.
// Dates are written in WIB (UTC+7).
//
// # Metrics
//
// appliance_notify_messages_total{channel,result="sent|retry|failed"},
// appliance_notify_pending{channel} (read from the pending index at scrape
// time) and appliance_notify_send_duration_seconds{channel}.
package notify

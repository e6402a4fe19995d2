package notify

import "time"

// Common holds the fields every template uses.
type Common struct {
	Name      string // the applicant's name, for the greeting
	PortalURL string // the enrollment portal's address
}

// PaymentInstructionsData is the data of KindPaymentInstructions. When
// VirtualAccount is set it is shown instead of AccountNumber.
type PaymentInstructionsData struct {
	Common
	Amount         string // already formatted, e.g. "Rp 150.000"
	BankName       string
	AccountNumber  string
	VirtualAccount string
	Reference      string
	DueDate        time.Time // zero: not shown
}

// PaymentRejectedData is the data of KindPaymentRejected.
type PaymentRejectedData struct {
	Common
	Reason string
}

// ApprovedData is the data of KindApproved.
type ApprovedData struct {
	Common
	ActivationURL string    // the Aktivasi link
	ExpiresAt     time.Time // zero: not shown
}

// RejectedData is the data of KindRejected. Correctable chooses between
// "please fix these fields" (rejected_correctable) and a final rejection.
type RejectedData struct {
	Common
	Reason      string
	Fields      []string // labels of the fields to fix, in the message's language
	Correctable bool
}

// OTPData is the data of KindOTPEmail and KindOTPSMS.
type OTPData struct {
	Common
	Code         string
	ValidMinutes int
	Purpose      string // name of the document to sign; empty for activation
}

// CertificateIssuedData is the data of KindCertificateIssued (the
// certificate itself goes as an attachment).
type CertificateIssuedData struct {
	Common
	Serial      string
	NotAfter    time.Time
	Fingerprint string // SHA-256 of the certificate, hex
}

// CertificateRevokedData is the data of KindCertificateRevoked.
type CertificateRevokedData struct {
	Common
	Serial string
	Reason string // in the message's language
}

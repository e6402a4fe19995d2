package main

import (
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/psre/appliance/audit"
	"github.com/psre/appliance/enrollment"
	"github.com/psre/appliance/notify"
)

// workflowEffects connects the application state machine to the audit log
// and the notification outbox: both are written inside the transition's
// transaction.
type workflowEffects struct {
	audit     *audit.Log
	templates *notify.Templates
	wake      func() // the dispatcher's Wake; nil when nothing dispatches (the CLI)
}

func (e *workflowEffects) Audit(tx *bolt.Tx, a enrollment.AuditEntry) error {
	_, err := e.audit.Append(tx, audit.Entry{Actor: a.Actor, Action: a.Action, Object: a.Object, Details: a.Details})
	return err
}

func (e *workflowEffects) Notify(tx *bolt.Tx, n enrollment.Notification) error {
	data, err := notificationData(n)
	if err != nil {
		return err
	}
	var m notify.Message
	if n.Channel == notify.ChannelSMS {
		m, err = e.templates.SMS(n.Kind, n.Lang, n.To, data)
	} else {
		m, err = e.templates.Email(n.Kind, n.Lang, n.To, data)
	}
	if err != nil {
		return err
	}
	for _, a := range n.Attachments {
		m.Attachments = append(m.Attachments, notify.Attachment{Name: a.Name, ContentType: a.ContentType, Data: a.Data})
	}
	_, err = notify.Enqueue(tx, m)
	return err
}

func (e *workflowEffects) Committed() {
	if e.wake != nil {
		e.wake()
	}
}

// fieldLabels name the correctable fields in the applicant's language.
var fieldLabels = map[string]map[string]string{
	"id": {"name": "Nama", "nik": "NIK", "birth_date": "Tanggal Lahir", "ktp_photo": "Foto KTP", "selfie": "Foto Selfie", "specimen": "Spesimen Tanda Tangan"},
	"en": {"name": "Name", "nik": "NIK", "birth_date": "Date of birth", "ktp_photo": "KTP photo", "selfie": "Selfie", "specimen": "Signature specimen"},
}

// notificationData turns the state machine's fields into the template
// data type of the kind.
func notificationData(n enrollment.Notification) (any, error) {
	var data any
	switch n.Kind {
	case notify.KindRequestReceived, notify.KindPaymentConfirmed:
		data = &notify.Common{}
	case notify.KindPaymentInstructions:
		data = &notify.PaymentInstructionsData{}
	case notify.KindPaymentRejected:
		data = &notify.PaymentRejectedData{}
	case notify.KindApproved:
		data = &notify.ApprovedData{}
	case notify.KindOTPEmail, notify.KindOTPSMS:
		data = &notify.OTPData{}
	case notify.KindCertificateIssued:
		data = &notify.CertificateIssuedData{}
	case notify.KindCertificateRevoked:
		data = &notify.CertificateRevokedData{}
	case notify.KindRejected:
		d := &notify.RejectedData{}
		fields, _ := n.Data["Fields"].([]string)
		labels := fieldLabels[n.Lang]
		if labels == nil {
			labels = fieldLabels["id"]
		}
		for _, f := range fields {
			d.Fields = append(d.Fields, labels[f])
		}
		d.Reason, _ = n.Data["Reason"].(string)
		d.Correctable, _ = n.Data["Correctable"].(bool)
		d.Name, _ = n.Data["Name"].(string)
		d.PortalURL, _ = n.Data["PortalURL"].(string)
		return d, nil
	default:
		return nil, fmt.Errorf("no template data for notification kind %q", n.Kind)
	}
	// The field names of the state machine are those of the template data.
	raw, err := json.Marshal(n.Data)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(raw, data); err != nil {
		return nil, fmt.Errorf("notification %s data: %w", n.Kind, err)
	}
	return data, nil
}

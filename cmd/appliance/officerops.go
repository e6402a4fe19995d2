package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/gorilla/mux"
	bolt "go.etcd.io/bbolt"

	"github.com/psre/appliance/audit"
	"github.com/psre/appliance/ca"
	"github.com/psre/appliance/store"
)

// officerRequest is what `officer add` asks for (also the admin API body).
// The NIK travels only over the admin socket, never in argv.
type officerRequest struct {
	Name  string `json:"name"`
	Role  string `json:"role"`
	CSR   []byte `json:"csr"` // DER
	Email string `json:"email,omitempty"`
	NIK   string `json:"nik,omitempty"`
}

// officerResult is the recorded officer with its certificate.
type officerResult struct {
	Officer store.Officer `json:"officer"`
	DER     []byte        `json:"der"`
}

// errBadOfficer marks refused officer input (a 400 over the admin socket).
var errBadOfficer = ca.ErrBadRequest

func checkOfficerName(name string) (string, error) {
	name = strings.Join(strings.Fields(name), " ")
	if name == "" || len(name) > 64 {
		return "", fmt.Errorf("%w: an officer name is 1 to 64 characters", errBadOfficer)
	}
	for _, r := range name {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !strings.ContainsRune(" .-'_", r) {
			return "", fmt.Errorf("%w: officer name %q: letters, digits, spaces and . - ' _ only", errBadOfficer, name)
		}
	}
	return name, nil
}

// addOfficer issues the officer's client certificate from the admin CA and
// records the officer with its audit entry. The certificate is issued
// first: if recording fails, the certificate exists but opens nothing (the
// console admits only recorded officers), and the error says its serial.
func (d directOps) addOfficer(ctx context.Context, r officerRequest, actor string) (officerResult, error) {
	name, err := checkOfficerName(r.Name)
	if err != nil {
		return officerResult{}, err
	}
	if !store.ValidRole(r.Role) {
		return officerResult{}, fmt.Errorf("%w: role %q: use cs, ra or auditor", errBadOfficer, r.Role)
	}
	emailHash, nikHash, err := d.st.enroll.IdentityHashes(r.Email, r.NIK)
	if err != nil {
		return officerResult{}, fmt.Errorf("%w: %v", errBadOfficer, err)
	}
	var exists bool
	err = d.st.db.View(func(tx *bolt.Tx) error {
		_, err := store.OfficerByName(tx, name)
		exists = err == nil
		return nil
	})
	if err != nil || exists {
		return officerResult{}, fmt.Errorf("%w: officer %q: %w", errBadOfficer, name, store.ErrOfficerExists)
	}
	res, err := d.issue(ctx, issueRequest{Profile: string(ca.ProfileOfficer), CSR: r.CSR, Name: name, Email: r.Email}, actor)
	if err != nil {
		return officerResult{}, err
	}
	fp := sha256.Sum256(res.DER)
	now := time.Now().UTC()
	o := store.Officer{Fingerprint: hex.EncodeToString(fp[:]), Name: name, Role: r.Role, Status: store.OfficerActive,
		Serial: res.Serial, EmailHash: emailHash, NIKHash: nikHash, Created: now, Updated: now}
	err = d.st.db.Update(func(tx *bolt.Tx) error {
		if err := store.AddOfficer(tx, o); err != nil {
			return err
		}
		_, err := d.st.audit.Append(tx, audit.Entry{Actor: actor, Action: "officer.add", Object: "officer/" + o.Fingerprint,
			Details: map[string]string{"role": o.Role, "serial": o.Serial}})
		return err
	})
	if err != nil {
		return officerResult{}, fmt.Errorf("record officer (certificate serial %s is issued but opens nothing; revoke it): %w", res.Serial, err)
	}
	d.st.log.InfoContext(ctx, "officer added", "fingerprint", o.Fingerprint, "role", o.Role, "serial", o.Serial, "actor", actor)
	return officerResult{Officer: o, DER: res.DER}, nil
}

func (d directOps) listOfficers(context.Context) ([]store.Officer, error) {
	var list []store.Officer
	err := d.st.db.View(func(tx *bolt.Tx) (err error) {
		list, err = store.Officers(tx)
		return err
	})
	return list, err
}

// setOfficerStatus disables or re-enables an officer; the console refuses
// a disabled officer at the next request.
func (d directOps) setOfficerStatus(ctx context.Context, name, status, actor string) (store.Officer, error) {
	if status != store.OfficerActive && status != store.OfficerDisabled {
		return store.Officer{}, fmt.Errorf("%w: status %q", errBadOfficer, status)
	}
	var o store.Officer
	err := d.st.db.Update(func(tx *bolt.Tx) (err error) {
		if o, err = store.OfficerByName(tx, name); err != nil {
			return err
		}
		if o.Status == status {
			return nil
		}
		o.Status, o.Updated = status, time.Now().UTC()
		if err := store.PutOfficer(tx, o); err != nil {
			return err
		}
		_, err = d.st.audit.Append(tx, audit.Entry{Actor: actor, Action: "officer." + map[string]string{
			store.OfficerActive: "enable", store.OfficerDisabled: "disable"}[status], Object: "officer/" + o.Fingerprint})
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return o, fmt.Errorf("no officer named %q: %w", name, err)
	}
	return o, err
}

// officerRoutes are the admin API's officer operations.
func officerRoutes(r *mux.Router, ops caOps, log *slog.Logger) {
	r.HandleFunc("/v1/officers", func(w http.ResponseWriter, req *http.Request) {
		var body officerRequest
		if !decodeJSON(w, req, &body) {
			return
		}
		res, err := ops.addOfficer(req.Context(), body, peerActor(req.Context()))
		writeResult(w, req, log, http.StatusCreated, res, err)
	}).Methods(http.MethodPost)
	r.HandleFunc("/v1/officers", func(w http.ResponseWriter, req *http.Request) {
		list, err := ops.listOfficers(req.Context())
		writeResult(w, req, log, http.StatusOK, list, err)
	}).Methods(http.MethodGet)
	r.HandleFunc("/v1/officers/{name}/status", func(w http.ResponseWriter, req *http.Request) {
		var body struct {
			Status string `json:"status"`
		}
		if !decodeJSON(w, req, &body) {
			return
		}
		o, err := ops.setOfficerStatus(req.Context(), mux.Vars(req)["name"], body.Status, peerActor(req.Context()))
		writeResult(w, req, log, http.StatusOK, o, err)
	}).Methods(http.MethodPost)
}

func (r remoteOps) addOfficer(ctx context.Context, body officerRequest, _ string) (officerResult, error) {
	var res officerResult
	return res, r.call(ctx, http.MethodPost, "/v1/officers", body, &res)
}

func (r remoteOps) listOfficers(ctx context.Context) ([]store.Officer, error) {
	var list []store.Officer
	return list, r.call(ctx, http.MethodGet, "/v1/officers", nil, &list)
}

func (r remoteOps) setOfficerStatus(ctx context.Context, name, status, _ string) (store.Officer, error) {
	var o store.Officer
	return o, r.call(ctx, http.MethodPost, "/v1/officers/"+url.PathEscape(name)+"/status", struct {
		Status string `json:"status"`
	}{status}, &o)
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os/user"
	"strconv"

	"github.com/gorilla/mux"

	"github.com/psre/appliance/adminsock"
	"github.com/psre/appliance/ca"
	"github.com/psre/appliance/store"
)

// adminHandler is the running service's admin API on the admin socket. The
// actor of every change is the peer's uid (from SO_PEERCRED), not anything
// the client claims.
func adminHandler(ops caOps, log *slog.Logger) http.Handler {
	r := mux.NewRouter()
	r.HandleFunc("/v1/certs", func(w http.ResponseWriter, req *http.Request) {
		var body issueRequest
		if !decodeJSON(w, req, &body) {
			return
		}
		res, err := ops.issue(req.Context(), body, peerActor(req.Context()))
		writeResult(w, req, log, http.StatusCreated, res, err)
	}).Methods(http.MethodPost)
	r.HandleFunc("/v1/certs/{serial}/revoke", func(w http.ResponseWriter, req *http.Request) {
		var body revokeRequest
		if !decodeJSON(w, req, &body) {
			return
		}
		rec, err := ops.revoke(req.Context(), mux.Vars(req)["serial"], body, peerActor(req.Context()))
		writeResult(w, req, log, http.StatusOK, rec, err)
	}).Methods(http.MethodPost)
	r.HandleFunc("/v1/certs/{serial}", func(w http.ResponseWriter, req *http.Request) {
		rec, err := ops.show(req.Context(), mux.Vars(req)["serial"])
		writeResult(w, req, log, http.StatusOK, rec, err)
	}).Methods(http.MethodGet)
	r.HandleFunc("/v1/crl/{ca}", func(w http.ResponseWriter, req *http.Request) {
		der, err := ops.crl(req.Context(), mux.Vars(req)["ca"])
		writeResult(w, req, log, http.StatusOK, struct {
			DER []byte `json:"der"`
		}{der}, err)
	}).Methods(http.MethodPost)
	r.HandleFunc("/v1/audit/verify", func(w http.ResponseWriter, req *http.Request) {
		res, err := adminAuditVerify(ops, req.URL.Query())
		writeResult(w, req, log, http.StatusOK, res, err)
	}).Methods(http.MethodGet)
	officerRoutes(r, ops, log)
	return r
}

func peerActor(ctx context.Context) string {
	p, ok := adminsock.PeerFromContext(ctx)
	if !ok {
		return "admin-socket:unknown-peer"
	}
	name := strconv.Itoa(p.UID)
	if u, err := user.LookupId(name); err == nil {
		name = u.Username
	}
	return fmt.Sprintf("cli:%s(uid=%d,pid=%d)", name, p.UID, p.PID)
}

func decodeJSON(w http.ResponseWriter, req *http.Request, into any) bool {
	dec := json.NewDecoder(io.LimitReader(req.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		adminsock.WriteProblem(w, adminsock.Problem{Title: "malformed request body", Status: http.StatusBadRequest, Detail: err.Error()})
		return false
	}
	return true
}

func writeResult(w http.ResponseWriter, req *http.Request, log *slog.Logger, status int, body any, err error) {
	if err != nil {
		p := adminsock.Problem{Title: "request failed", Status: http.StatusInternalServerError, Detail: err.Error()}
		switch {
		case errors.Is(err, ca.ErrBadRequest):
			p.Title, p.Status = "request refused", http.StatusBadRequest
		case errors.Is(err, store.ErrNotFound), errors.Is(err, ca.ErrUnknownCA):
			p.Title, p.Status = "not found", http.StatusNotFound
		case errors.Is(err, store.ErrRevokedDifferently), errors.Is(err, store.ErrWrongState):
			p.Title, p.Status = "conflict", http.StatusConflict
		default:
			log.ErrorContext(req.Context(), "admin request failed", "path", req.URL.Path, "error", err)
		}
		adminsock.WriteProblem(w, p)
		return
	}
	var b bytes.Buffer
	if err := json.NewEncoder(&b).Encode(body); err != nil {
		adminsock.WriteProblem(w, adminsock.Problem{Title: "encode response", Status: http.StatusInternalServerError})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

// remoteOps sends the officer operations to the running service.
type remoteOps struct {
	client *http.Client
}

func dialAdmin(dir string) (caOps, bool) {
	path := adminsock.SocketPath(dir)
	if !adminsock.Running(path) {
		return nil, false
	}
	return remoteOps{client: adminsock.Client(path)}, true
}

func (r remoteOps) close() {}

func (r remoteOps) call(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://admin"+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := r.client.Do(req)
	if err != nil {
		return fmt.Errorf("admin socket: %w", err)
	}
	defer resp.Body.Close()
	return adminsock.DecodeResponse(resp, out)
}

func (r remoteOps) issue(ctx context.Context, body issueRequest, _ string) (issueResult, error) {
	var res issueResult
	return res, r.call(ctx, http.MethodPost, "/v1/certs", body, &res)
}

func (r remoteOps) revoke(ctx context.Context, serial string, body revokeRequest, _ string) (store.CertRecord, error) {
	var rec store.CertRecord
	return rec, r.call(ctx, http.MethodPost, "/v1/certs/"+url.PathEscape(serial)+"/revoke", body, &rec)
}

func (r remoteOps) show(ctx context.Context, serial string) (store.CertRecord, error) {
	var rec store.CertRecord
	return rec, r.call(ctx, http.MethodGet, "/v1/certs/"+url.PathEscape(serial), nil, &rec)
}

func (r remoteOps) crl(ctx context.Context, caName string) ([]byte, error) {
	var res struct {
		DER []byte `json:"der"`
	}
	return res.DER, r.call(ctx, http.MethodPost, "/v1/crl/"+url.PathEscape(caName), nil, &res)
}

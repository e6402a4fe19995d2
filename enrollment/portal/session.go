package portal

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"sync"
	"time"
)

// Session limits: the wizard holds up to three images per session, so both
// the number of sessions and the bytes of images they hold are bounded. When
// a bound is reached the least recently used sessions go first.
const (
	sessionIdle          = 30 * time.Minute
	defaultMaxSessions   = 5000
	defaultMaxImageBytes = 256 << 20
)

// session is one browser's server-side state, named by an opaque random id
// in a cookie. It is created for the registration wizard or at login.
type session struct {
	id string

	mu          sync.Mutex // held by a request while it uses the fields below
	applicantID string     // set at login
	username    string
	wiz         *wizard // registration in progress
	registered  bool    // the wizard ended with a registration
	flash       string  // catalog key the account page shows once

	// guarded by sessionStore.mu
	lastSeen   time.Time
	imageBytes int
	dead       bool
	loggedIn   bool // evicted only when no anonymous session is left
}

// sessionStore keeps sessions in memory: they are lost on restart, which
// costs an applicant a half-filled wizard or a login.
type sessionStore struct {
	now           func() time.Time
	idle          time.Duration
	maxSessions   int
	maxImageBytes int

	mu         sync.Mutex
	m          map[string]*session
	imageBytes int
}

func newSessionStore(now func() time.Time) *sessionStore {
	return &sessionStore{now: now, idle: sessionIdle, maxSessions: defaultMaxSessions,
		maxImageBytes: defaultMaxImageBytes, m: map[string]*session{}}
}

func randomID() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// get returns the live session named id, or nil. Only ids this store made
// are accepted, so a client cannot choose its session id.
func (s *sessionStore) get(id string) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess := s.m[id]
	if sess == nil {
		return nil
	}
	now := s.now()
	if now.Sub(sess.lastSeen) > s.idle {
		s.drop(sess)
		return nil
	}
	sess.lastSeen = now
	return sess
}

// create makes a session with a fresh random id, evicting expired and then
// least recently used sessions when the store is full.
func (s *sessionStore) create() (*session, error) {
	id, err := randomID()
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if len(s.m) >= s.maxSessions {
		for _, o := range s.m {
			if now.Sub(o.lastSeen) > s.idle {
				s.drop(o)
			}
		}
	}
	for len(s.m) >= s.maxSessions {
		s.drop(s.oldest(nil))
	}
	sess := &session{id: id, lastSeen: now}
	s.m[id] = sess
	return sess, nil
}

// remove forgets sess (logout, login rotation).
func (s *sessionStore) remove(sess *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m[sess.id] == sess {
		s.drop(sess)
	}
}

// charge records that sess now holds n bytes of images, evicting the least
// recently used other sessions while the total is over budget. It reports
// false if sess is gone or n alone is over budget.
func (s *sessionStore) charge(sess *session, n int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sess.dead || n > s.maxImageBytes {
		return false
	}
	s.imageBytes += n - sess.imageBytes
	sess.imageBytes = n
	for s.imageBytes > s.maxImageBytes {
		o := s.oldest(sess)
		if o == nil {
			break
		}
		s.drop(o)
	}
	return true
}

func (s *sessionStore) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

// oldest returns the least recently used session other than except.
// oldest is the least recently used session other than except, taken from
// the anonymous (registration) sessions first: a flood of new wizards
// cannot log applicants out while anonymous sessions remain to evict.
func (s *sessionStore) oldest(except *session) *session {
	var o, oLogged *session
	for _, c := range s.m {
		if c == except {
			continue
		}
		if c.loggedIn {
			if oLogged == nil || c.lastSeen.Before(oLogged.lastSeen) {
				oLogged = c
			}
		} else if o == nil || c.lastSeen.Before(o.lastSeen) {
			o = c
		}
	}
	if o == nil {
		return oLogged
	}
	return o
}

// markLoggedIn records that sess belongs to a logged-in applicant.
func (s *sessionStore) markLoggedIn(sess *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess.loggedIn = true
}

func (s *sessionStore) drop(sess *session) {
	delete(s.m, sess.id)
	s.imageBytes -= sess.imageBytes
	sess.imageBytes = 0
	sess.dead = true
}

// cookieName is the session cookie's name; with Secure, the __Host- prefix
// makes browsers refuse it from plain HTTP or with a Domain attribute.
func (p *Portal) cookieName() string {
	if p.cfg.Secure {
		return "__Host-session"
	}
	return "session"
}

// session returns the request's live session, or nil.
func (p *Portal) session(r *http.Request) *session {
	c, err := r.Cookie(p.cookieName())
	if err != nil || c.Value == "" {
		return nil
	}
	return p.sessions.get(c.Value)
}

// newSession creates a session and sets its cookie.
func (p *Portal) newSession(w http.ResponseWriter) (*session, error) {
	sess, err := p.sessions.create()
	if err != nil {
		return nil, err
	}
	p.setSessionCookie(w, sess.id, 0)
	return sess, nil
}

// setSessionCookie sets (maxAge 0: for the browser session) or clears
// (maxAge < 0) the session cookie. SameSite=Lax: see the package doc.
func (p *Portal) setSessionCookie(w http.ResponseWriter, id string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: p.cookieName(), Value: id, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: p.cfg.Secure, SameSite: http.SameSiteLaxMode})
}

package portal

// CaptchaAnswer returns the digits of the captcha shown to the session
// whose cookie value is sessionID, or "" (tests only: a person reads the
// picture).
func CaptchaAnswer(p *Portal, sessionID string) string {
	sess := p.sessions.get(sessionID)
	if sess == nil {
		return ""
	}
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if sess.wiz == nil {
		return ""
	}
	b := make([]byte, len(sess.wiz.captcha.digits))
	for i, d := range sess.wiz.captcha.digits {
		b[i] = '0' + d
	}
	return string(b)
}

// SessionCookieName is the name of the session cookie.
func SessionCookieName(p *Portal) string { return p.cookieName() }

// SetSessionLimits changes the bound on sessions and on their image bytes.
func SetSessionLimits(p *Portal, maxSessions, maxImageBytes int) {
	p.sessions.mu.Lock()
	defer p.sessions.mu.Unlock()
	p.sessions.maxSessions, p.sessions.maxImageBytes = maxSessions, maxImageBytes
}

// SessionCount is the number of sessions held.
func SessionCount(p *Portal) int { return p.sessions.len() }

// Message returns the catalog text of key in lang and whether it exists.
func Message(p *Portal, lang, key string) (string, bool) {
	s, ok := p.cats[lang][key]
	return s, ok
}

// SessionIdle is the idle expiry of sessions.
const SessionIdle = sessionIdle

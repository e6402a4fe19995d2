package portal

import (
	"bytes"
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/dchest/captcha"
)

// Captcha geometry. The digits live in the wizard state of the session
// that was shown them; dchest/captcha's global store is not used.
const (
	captchaDigits = 6
	captchaWidth  = 240
	captchaHeight = 80
)

type captchaState struct {
	id      string // names the picture in /captcha/{id}.png; changes with the digits
	digits  []byte // 0-9 each
	renders int    // pictures and sounds made of these digits so far
}

// maxCaptchaRenders bounds the pictures and sounds made for one captcha
// (a sound costs ~5 ms of CPU and 1 MB): enough for a person to reload the
// page and listen a few times, then a new captcha is needed.
const maxCaptchaRenders = 8

func (p *Portal) newCaptcha() (captchaState, error) {
	id, err := randomID()
	if err != nil {
		return captchaState{}, err
	}
	if p.cfg.CaptchaDigits != nil {
		return captchaState{id: id, digits: p.cfg.CaptchaDigits()}, nil
	}
	return captchaState{id: id, digits: captcha.RandomDigits(captchaDigits)}, nil
}

// matches reports whether answer (digits, spaces ignored) is the captcha's.
func (c captchaState) matches(answer string) bool {
	answer = strings.Join(strings.Fields(answer), "")
	if len(c.digits) == 0 || len(answer) != len(c.digits) {
		return false
	}
	got := make([]byte, len(answer))
	for i := range len(answer) {
		if answer[i] < '0' || answer[i] > '9' {
			return false
		}
		got[i] = answer[i] - '0'
	}
	return subtle.ConstantTimeCompare(got, c.digits) == 1
}

// captchaMedia serves /captcha/{id}.png and /captcha/{id}.wav for the
// captcha of the caller's own wizard only.
func (p *Portal) captchaMedia(w http.ResponseWriter, r *http.Request) {
	file := r.PathValue("file")
	id, ext, _ := strings.Cut(file, ".")
	var digits []byte
	tooMany := false
	if sess := p.session(r); sess != nil && id != "" && (ext == "png" || ext == "wav") {
		sess.mu.Lock()
		if sess.wiz != nil && sess.wiz.captcha.id == id {
			c := &sess.wiz.captcha
			if c.renders++; c.renders > maxCaptchaRenders {
				tooMany = true
			} else {
				digits = bytes.Clone(c.digits)
			}
		}
		sess.mu.Unlock()
	}
	if tooMany {
		http.Error(w, "", http.StatusTooManyRequests)
		return
	}
	if digits == nil {
		p.notFound(w, r)
		return
	}
	var buf bytes.Buffer
	if ext == "png" {
		w.Header().Set("Content-Type", "image/png")
		_, _ = captcha.NewImage(id, digits, captchaWidth, captchaHeight).WriteTo(&buf)
	} else {
		// dchest/captcha speaks no Indonesian; the page says the audio is English.
		w.Header().Set("Content-Type", "audio/wav")
		_, _ = captcha.NewAudio(id, digits, "en").WriteTo(&buf)
	}
	_, _ = w.Write(buf.Bytes())
}

package portal_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/psre/appliance/enrollment/portal"
)

const chromium = "/usr/bin/chromium"

// TestBrowserRegistration does what a person does, in Debian's chromium
// with a fake camera: steps 1 and 2, the KTP photo, a selfie from the
// camera, a signature drawn with the mouse, the captcha, consent, Simpan
// Data, login and the account page. Once at desktop size, once at 360x740.
func TestBrowserRegistration(t *testing.T) {
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("%s is needed (apt-get install chromium): %v", chromium, err)
	}
	e := newEnv(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	ktp := filepath.Join(t.TempDir(), "ktp.jpg")
	if err := os.WriteFile(ktp, jpegImage(t, 800, 500), 0o600); err != nil {
		t.Fatal(err)
	}
	proof := filepath.Join(t.TempDir(), "bukti.pdf")
	if err := os.WriteFile(proof, minimalPDF(1, ""), 0o600); err != nil {
		t.Fatal(err)
	}
	officers := e.staff()
	runs := []struct {
		name   string
		w, h   int64
		mobile bool
		who    applicant
	}{
		{"desktop", 1280, 900, false, budi()},
		{"mobile-360", 360, 740, true, siti()},
	}
	for _, run := range runs {
		t.Run(run.name, func(t *testing.T) {
			tab := newTab(ctx, t)
			viewport := chromedp.EmulateViewport(run.w, run.h)
			if run.mobile {
				viewport = chromedp.EmulateViewport(run.w, run.h, chromedp.EmulateScale(2), chromedp.EmulateMobile,
					chromedp.EmulateOrientation(emulation.ScreenOrientationTypePortraitPrimary, 0))
			}
			if err := chromedp.Do(tab, viewport); err != nil {
				t.Fatal(err)
			}
			if err := walkThrough(tab, e, run.who, ktp); err != nil {
				screenshot(t, tab, run.name)
				t.Fatal(err)
			}
			if err := payThrough(tab, e, officers, run.who, proof); err != nil {
				screenshot(t, tab, run.name+"-payment")
				t.Fatal(err)
			}
		})
	}
}

// newTab starts a browser of its own (fresh profile, no shared cookies).
func newTab(ctx context.Context, t *testing.T) context.Context {
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
	}
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	tab, tcancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() { tcancel(); acancel() })
	return tab
}

func screenshot(t *testing.T, tab context.Context, name string) {
	sctx, cancel := context.WithTimeout(tab, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Logf("no screenshot: %v", err)
		return
	}
	path := filepath.Join(t.ArtifactDir(), name+".png")
	if err := os.WriteFile(path, png, 0o600); err != nil {
		t.Logf("screenshot: %v", err)
		return
	}
	t.Logf("screenshot of the failure: %s (kept with go test -artifacts)", path)
}

func css(s string) chromedp.CSS { return chromedp.CSS(s) }

// walkThrough is one registration and login, as a person does them.
func walkThrough(tab context.Context, e *env, a applicant, ktp string) error {
	// Each step has its own deadline inside the test's two minutes, so
	// that a failure leaves the browser alive for a screenshot.
	step := func(what string, actions ...chromedp.Action[chromedp.Void]) error {
		sctx, cancel := context.WithTimeout(tab, 30*time.Second)
		defer cancel()
		if err := chromedp.Do(sctx, actions...); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	}
	if err := step("landing",
		chromedp.Navigate(e.srv.URL+"/"),
		chromedp.Click(css("#register-link")),
		chromedp.WaitVisible(css("#f-nik")),
	); err != nil {
		return err
	}
	if err := fitsWidth(tab, "Identitas Pribadi"); err != nil {
		return err
	}
	if err := step("Identitas Pribadi",
		chromedp.SendKeys(css("#f-nik"), a.nik),
		chromedp.SendKeys(css("#f-name"), a.name),
		chromedp.SetValue(css("#f-birth_date"), a.birth),
		chromedp.Click(css(`button[value="next"]`)),
		chromedp.WaitVisible(css("#f-username")),
		chromedp.SendKeys(css("#f-username"), a.username),
		chromedp.SendKeys(css("#f-password"), a.password),
		chromedp.SendKeys(css("#f-password_confirm"), a.password),
		chromedp.SendKeys(css("#f-email"), a.email),
		chromedp.SendKeys(css("#f-phone"), a.phone),
		chromedp.Click(css(`button[value="next"]`)),
		chromedp.WaitVisible(css("#f-ktp_photo")),
	); err != nil {
		return err
	}
	if err := step("Foto KTP", chromedp.SetUploadFiles(css("#f-ktp_photo"), []string{ktp})); err != nil {
		return err
	}
	if err := step("selfie",
		chromedp.WaitEnabled(css("#selfie-capture")),
		chromedp.Click(css("#selfie-capture")),
		waitSaved("selfie-status"),
	); err != nil {
		return err
	}
	if err := drawSignature(tab); err != nil {
		return err
	}
	if err := step("signature", chromedp.Click(css("#signature-save")), waitSaved("signature-status")); err != nil {
		return err
	}
	if err := fitsWidth(tab, "Foto dan Tandatangan"); err != nil {
		return err
	}
	answer, err := captchaAnswer(tab, e)
	if err != nil {
		return err
	}
	if err := step("Simpan Data",
		chromedp.SendKeys(css("#f-captcha"), answer),
		chromedp.Click(css("#f-consent")),
		chromedp.Click(css("#simpan")),
		chromedp.WaitVisible(css("#selesai")),
		chromedp.Click(css("#login-link")),
		chromedp.WaitVisible(css("#f-login")),
		chromedp.SendKeys(css("#f-login"), a.username),
		chromedp.SendKeys(css("#f-password"), a.password),
		chromedp.Click(css("#login-submit")),
		chromedp.WaitVisible(css("#account-state")),
	); err != nil {
		return err
	}
	state, err := chromedp.Run(tab, chromedp.Evaluate[string](`document.getElementById('account-state').dataset.state`))
	if err != nil {
		return err
	}
	label, err := chromedp.Run(tab, chromedp.Text(css("#account-state")))
	if err != nil {
		return err
	}
	if state != "registered" || label != "Terdaftar" {
		return fmt.Errorf("account page: state %q, label %q", state, label)
	}
	return fitsWidth(tab, "Akun Saya")
}

// waitSaved waits for the DOM signal post.js sets when the server kept
// the image: the status line says "Tersimpan".
func waitSaved(id string) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](fmt.Sprintf(
		`(function(s){ if (s.dataset.state === 'error') throw new Error(s.textContent);
		  return s.dataset.state === 'saved' && s.textContent === 'Tersimpan'; })(document.getElementById(%q))`, id),
		chromedp.WithPollingTimeout(30*time.Second))
}

// drawSignature presses the mouse on the pad, moves it along a curve and
// releases it: the pad sees pointerdown, pointermove and pointerup.
func drawSignature(tab context.Context) error {
	return chromedp.Do(tab,
		chromedp.ScrollIntoView(css("#signature-pad")),
		chromedp.Func(func(ctx context.Context, target *chromedp.Target) error {
			rect, err := chromedp.Run(ctx, chromedp.Evaluate[struct{ X, Y, W, H float64 }](
				`(function(r){ return {X: r.left, Y: r.top, W: r.width, H: r.height}; })(document.getElementById('signature-pad').getBoundingClientRect())`))
			if err != nil {
				return err
			}
			if rect.W < 50 || rect.H < 20 {
				return fmt.Errorf("signature pad is %vx%v", rect.W, rect.H)
			}
			send := func(typ input.DispatchMouseEventType, fx, fy float64, buttons int64) error {
				_, err := cdp.Call(ctx, target, input.DispatchMouseEvent, input.DispatchMouseEventParams{
					Type: typ, X: rect.X + fx*rect.W, Y: rect.Y + fy*rect.H,
					Button: input.MouseButtonLeft, Buttons: buttons, ClickCount: 1,
				})
				return err
			}
			if err := send(chromedp.MousePressed, 0.1, 0.6, 1); err != nil {
				return err
			}
			for i := 1; i <= 20; i++ {
				fx := 0.1 + 0.8*float64(i)/20
				fy := 0.5 + 0.3*float64((i%4)-2)/2
				if err := send(chromedp.MouseMoved, fx, fy, 1); err != nil {
					return err
				}
			}
			return send(chromedp.MouseReleased, 0.9, 0.5, 0)
		}),
	)
}

// captchaAnswer reads the session cookie from the browser and asks the
// portal (test-only export) for the digits the picture shows.
func captchaAnswer(tab context.Context, e *env) (string, error) {
	res, err := chromedp.Call(tab, network.GetCookies, network.GetCookiesParams{URLs: []string{e.srv.URL}})
	if err != nil {
		return "", err
	}
	for _, c := range res.Cookies {
		if c.Name == portal.SessionCookieName(e.p) {
			if a := portal.CaptchaAnswer(e.p, c.Value); a != "" {
				return a, nil
			}
		}
	}
	return "", errors.New("no captcha for the browser's session")
}

// fitsWidth fails if the page scrolls sideways (at 360 px everything must
// fit).
func fitsWidth(tab context.Context, page string) error {
	ok, err := chromedp.Run(tab, chromedp.Evaluate[bool](`document.documentElement.scrollWidth <= window.innerWidth`))
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%s is wider than the screen", page)
	}
	return nil
}

package portal_test

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkRegistrations measures complete registrations through the real
// handlers: per applicant a fresh client (cookie jar, connections of its
// own) runs steps 1 and 2, posts the selfie and the specimen as the page's
// script does, and presses Simpan Data with a photographed KTP, the captcha
// (test hook) and consent. Each iteration is 40 registrations. The images
// are made once: KTP 1600x1000 (310 KB), selfie 640x480 (61 KB), specimen
// 600x200 PNG.
func BenchmarkRegistrations(b *testing.B) {
	const perIteration = 40
	img := images{ktp: photo(b, 1600, 1000), selfie: photo(b, 640, 480), specimen: pngImage(b, 600, 200)}
	for _, applicants := range []int{1, 4, 16} {
		b.Run(fmt.Sprintf("applicants:%d", applicants), func(b *testing.B) {
			e := newEnv(b)
			done := e.msg("id", "selesai.title")
			var simpan []time.Duration
			var elapsed time.Duration
			for b.Loop() {
				lat := make([]time.Duration, perIteration)
				elapsed += inParallel(b, applicants, perIteration, func(t testing.TB, _, i int) {
					lat[i] = registerOne(t, e, img, done)
				})
				simpan = append(simpan, lat...)
			}
			b.ReportMetric(float64(len(simpan))/elapsed.Seconds(), "registrations/s")
			b.ReportMetric(percentileMS(simpan, 0.50), "simpan-p50-ms")
			b.ReportMetric(percentileMS(simpan, 0.99), "simpan-p99-ms")
		})
	}
}

// BenchmarkPages measures the pages anyone may ask for often, under 16
// clients with keep-alive connections of their own and their cookies (the
// wizard page reuses its session after the first request).
func BenchmarkPages(b *testing.B) {
	const clients, perIteration = 16, 2000
	e := newEnv(b)
	paths := []string{"/", "/register/identitas", "/login"}
	browsers := make([]*browser, clients)
	for i := range browsers {
		browsers[i] = e.browser()
		tr := &http.Transport{}
		browsers[i].c.Transport = tr
		defer tr.CloseIdleConnections()
	}
	var all []time.Duration
	byPath := make([][]time.Duration, len(paths))
	var elapsed time.Duration
	for b.Loop() {
		lat := make([]time.Duration, perIteration)
		elapsed += inParallel(b, clients, perIteration, func(t testing.TB, w, i int) {
			br := browsers[w] // used by this goroutine only
			br.t = t
			path := paths[i%len(paths)]
			start := time.Now()
			pg := br.get(path)
			lat[i] = time.Since(start)
			if pg.status != http.StatusOK || pg.path != path {
				t.Fatalf("GET %s: %d, ended on %s", path, pg.status, pg.path)
			}
		})
		all = append(all, lat...)
		for i, d := range lat {
			byPath[i%len(paths)] = append(byPath[i%len(paths)], d)
		}
	}
	b.ReportMetric(float64(len(all))/elapsed.Seconds(), "pages/s")
	b.ReportMetric(percentileMS(all, 0.50), "p50-ms")
	b.ReportMetric(percentileMS(all, 0.99), "p99-ms")
	for i, p := range paths {
		b.Logf("GET %-20s p50 %.2f ms, p99 %.2f ms", p, percentileMS(byPath[i], 0.50), percentileMS(byPath[i], 0.99))
	}
}

type images struct{ ktp, selfie, specimen []byte }

// serial numbers the benchmark's applicants, so that NIK, username, email
// and phone are unique across sub-benchmarks and iterations.
var serial atomic.Int64

// registerOne is one applicant from the first page to "selesai"; it returns
// the latency of Simpan Data (the multipart POST with the KTP photo and
// the GET of the page it redirects to).
func registerOne(t testing.TB, e *env, img images, done string) time.Duration {
	n := serial.Add(1)
	if n > 9999 {
		t.Fatal("out of NIK serial numbers")
	}
	a := applicant{nik: fmt.Sprintf("317101120890%04d", n), name: fmt.Sprintf("Pemohon Uji %d", n),
		birth: "1990-08-12", username: fmt.Sprintf("pemohon.%04d", n), password: "kuda-lari-di-pantai",
		email: fmt.Sprintf("pemohon%04d@example.co.id", n), phone: fmt.Sprintf("0812-7000-%04d", n)}
	br := e.browser()
	br.t = t
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	br.c.Transport = tr
	br.toFoto(a)
	br.mustSave("/register/selfie", img.selfie)
	br.mustSave("/register/specimen", img.specimen)
	form := url.Values{"captcha": {br.captcha()}, "consent": {policy}, "action": {"save"}}
	start := time.Now()
	pg := br.postMultipart("/register/foto", form, "ktp.jpg", img.ktp)
	d := time.Since(start)
	if pg.status != http.StatusOK || pg.path != "/register/selesai" || !strings.Contains(pg.body, done) {
		t.Fatalf("applicant %d: Simpan Data ended on %s (%d):\n%.2000s", n, pg.path, pg.status, pg.body)
	}
	return d
}

// inParallel calls do(t, w, i) for every i in [0, n) from workers
// goroutines (w is the goroutine's index) and returns the wall time. It
// stops the benchmark if any call failed.
func inParallel(b *testing.B, workers, n int, do func(t testing.TB, w, i int)) time.Duration {
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for w := range workers {
		wg.Go(func() {
			t := goroutineTB{b}
			for i := int(next.Add(1)) - 1; i < n && !b.Failed(); i = int(next.Add(1)) - 1 {
				do(t, w, i)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if b.Failed() {
		b.FailNow()
	}
	return elapsed
}

// goroutineTB lets the helpers' Fatal run on a goroutine other than the
// benchmark's (where FailNow must not be called): it marks the benchmark
// failed and ends only the calling goroutine.
type goroutineTB struct{ testing.TB }

func (g goroutineTB) Fatal(args ...any) {
	g.TB.Helper()
	g.Error(args...)
	runtime.Goexit()
}

func (g goroutineTB) Fatalf(format string, args ...any) {
	g.TB.Helper()
	g.Errorf(format, args...)
	runtime.Goexit()
}

func (g goroutineTB) FailNow() { g.Fail(); runtime.Goexit() }

// photo is a JPEG of w x h pixels with sensor-like noise, so that it is as
// large and as costly to decode as a photograph (a few hundred KB at
// 1600x1000; the plain pattern compresses to a fifth of that).
func photo(t testing.TB, w, h int) []byte {
	t.Helper()
	img := pattern(w, h).(*image.RGBA)
	r := rand.New(rand.NewPCG(uint64(w), uint64(h)))
	for i, p := range img.Pix {
		if i%4 != 3 {
			img.Pix[i] = uint8(min(max(int(p)+r.IntN(17)-8, 0), 255))
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// percentileMS is the q-quantile of d in milliseconds (nearest rank: with
// 40 samples p99 is the slowest).
func percentileMS(d []time.Duration, q float64) float64 {
	s := slices.Sorted(slices.Values(d))
	i := max(int(math.Ceil(q*float64(len(s))))-1, 0)
	return float64(s[i]) / float64(time.Millisecond)
}

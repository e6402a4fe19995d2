package upload

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"runtime"
	"testing"
)

// pattern is a deterministic, not-too-compressible test picture.
func pattern(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.NRGBA{uint8(x * 7), uint8(y * 5), uint8((x ^ y) * 3), 255})
		}
	}
	return img
}

func jpegOf(tb testing.TB, w, h int) []byte {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, pattern(w, h), &jpeg.Options{Quality: 85}); err != nil {
		tb.Fatal(err)
	}
	return b.Bytes()
}

func pngOf(tb testing.TB, w, h int) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, pattern(w, h)); err != nil {
		tb.Fatal(err)
	}
	return b.Bytes()
}

// chunk builds a PNG chunk with its length and CRC.
func chunk(typ string, data []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
	b = append(append(b, typ...), data...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b[4:]))
}

// bombPNG is a valid PNG header claiming w x h RGB pixels with a tiny IDAT.
func bombPNG(w, h uint32) []byte {
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 2, 0, 0, 0) // depth 8, RGB, deflate, filter 0, no interlace
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(make([]byte, 1024))
	zw.Close()
	b := []byte("\x89PNG\r\n\x1a\n")
	b = append(b, chunk("IHDR", ihdr)...)
	b = append(b, chunk("IDAT", z.Bytes())...)
	return append(b, chunk("IEND", nil)...)
}

// withEXIF splices an APP1 Exif segment right after the JPEG SOI marker.
func withEXIF(j []byte) []byte {
	payload := []byte("Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08GPS-SECRET-LOCATION")
	seg := binary.BigEndian.AppendUint16([]byte{0xff, 0xe1}, uint16(len(payload)+2))
	seg = append(seg, payload...)
	return append(append(append([]byte{}, j[:2]...), seg...), j[2:]...)
}

// withText inserts a tEXt chunk right after the PNG IHDR chunk.
func withText(p []byte) []byte {
	const afterIHDR = 8 + 4 + 4 + 13 + 4
	t := chunk("tEXt", []byte("Comment\x00SECRET-TEXT-CHUNK"))
	return append(append(append([]byte{}, p[:afterIHDR]...), t...), p[afterIHDR:]...)
}

func gifOf(tb testing.TB) []byte {
	var b bytes.Buffer
	if err := gif.Encode(&b, pattern(400, 300), nil); err != nil {
		tb.Fatal(err)
	}
	return b.Bytes()
}

func TestClean(t *testing.T) {
	ktp := jpegOf(t, 800, 500)
	tests := []struct {
		name       string
		kind       Kind
		data       []byte
		err        error
		w, h       int
		mustNotSee string // must not appear in the output
	}{
		{"KTP JPEG 800x500", KTPPhoto, ktp, nil, 800, 500, ""},
		{"selfie PNG 640x640", Selfie, pngOf(t, 640, 640), nil, 640, 640, ""},
		{"specimen PNG 400x150", Specimen, pngOf(t, 400, 150), nil, 400, 150, ""},
		{"specimen JPEG becomes PNG", Specimen, jpegOf(t, 400, 150), nil, 400, 150, ""},
		{"minimum KTP", KTPPhoto, jpegOf(t, 320, 200), nil, 320, 200, ""},
		{"JPEG with EXIF", KTPPhoto, withEXIF(ktp), nil, 800, 500, "Exif"},
		{"EXIF payload gone", Selfie, withEXIF(jpegOf(t, 300, 300)), nil, 300, 300, "GPS-SECRET"},
		{"PNG with tEXt", Specimen, withText(pngOf(t, 400, 150)), nil, 400, 150, "tEXt"},
		{"tEXt payload gone", Selfie, withText(pngOf(t, 300, 300)), nil, 300, 300, "SECRET-TEXT"},
		{"trailing data dropped", KTPPhoto, append(append([]byte{}, ktp...), "<?php system($_GET[c]); ?>"...), nil, 800, 500, "<?php"},
		{"empty", KTPPhoto, nil, ErrEmpty, 0, 0, ""},
		{"6 MB blob", KTPPhoto, bytes.Repeat([]byte{0xff}, 6<<20), ErrTooLarge, 0, 0, ""},
		{"text renamed .jpg", KTPPhoto, []byte("this is not a photo, just text\n"), ErrNotImage, 0, 0, ""},
		{"GIF", Selfie, gifOf(t), ErrNotImage, 0, 0, ""},
		{"PDF", Specimen, []byte("%PDF-1.4\n1 0 obj\n<<>>\nendobj\n"), ErrNotImage, 0, 0, ""},
		{"bomb 50000x50000", Selfie, bombPNG(50000, 50000), ErrDimensions, 0, 0, ""},
		{"over 16 MP", KTPPhoto, bombPNG(4100, 4000), ErrDimensions, 0, 0, ""},
		{"side over 8000", Specimen, bombPNG(8001, 100), ErrDimensions, 0, 0, ""},
		{"KTP too small", KTPPhoto, jpegOf(t, 319, 200), ErrDimensions, 0, 0, ""},
		{"selfie too small", Selfie, pngOf(t, 240, 239), ErrDimensions, 0, 0, ""},
		{"specimen too small", Specimen, pngOf(t, 99, 40), ErrDimensions, 0, 0, ""},
		{"truncated JPEG", KTPPhoto, ktp[:len(ktp)/2], ErrCorrupt, 0, 0, ""},
		{"truncated PNG", Selfie, func() []byte { p := pngOf(t, 640, 640); return p[:len(p)/2] }(), ErrCorrupt, 0, 0, ""},
		{"JPEG magic only", KTPPhoto, []byte("\xff\xd8\xff\xe0garbage"), ErrCorrupt, 0, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := Clean(tt.kind, tt.data)
			if tt.err != nil {
				if !errors.Is(err, tt.err) || out != nil {
					t.Fatalf("Clean = %d bytes, %v; want %v", len(out), err, tt.err)
				}
				if MessageKey(err) == "" {
					t.Errorf("MessageKey(%v) is empty", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Clean: %v", err)
			}
			cfg, format, err := image.DecodeConfig(bytes.NewReader(out))
			if err != nil {
				t.Fatalf("output does not decode: %v", err)
			}
			if want := map[bool]string{true: "png", false: "jpeg"}[tt.kind == Specimen]; format != want {
				t.Errorf("output format %s, want %s", format, want)
			}
			if cfg.Width != tt.w || cfg.Height != tt.h {
				t.Errorf("output %dx%d, want %dx%d", cfg.Width, cfg.Height, tt.w, tt.h)
			}
			if tt.mustNotSee != "" && !bytes.Contains(tt.data, []byte(tt.mustNotSee)) {
				t.Fatalf("fixture lacks %q", tt.mustNotSee)
			}
			for _, s := range []string{tt.mustNotSee, "Exif", "tEXt", "iTXt", "zTXt"} {
				if s != "" && bytes.Contains(out, []byte(s)) {
					t.Errorf("output contains %q", s)
				}
			}
		})
	}
}

func TestBombDoesNotAllocate(t *testing.T) {
	bomb := bombPNG(50000, 50000)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := Clean(Selfie, bomb)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrDimensions) {
		t.Fatalf("Clean(bomb) = %v", err)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
		t.Errorf("refusing the bomb allocated %d bytes", n)
	}
}

func TestMessageKey(t *testing.T) {
	for err, want := range map[error]string{
		nil: "", errors.New("other"): "",
		ErrEmpty: "upload.empty", ErrTooLarge: "upload.too_large", ErrNotImage: "upload.not_image",
		ErrDimensions: "upload.dimensions", ErrCorrupt: "upload.corrupt",
	} {
		if got := MessageKey(err); got != want {
			t.Errorf("MessageKey(%v) = %q, want %q", err, got, want)
		}
	}
	if _, err := Clean(Kind(9), []byte("x")); err == nil {
		t.Error("Clean accepted an unknown kind")
	}
}

func TestTransparentPNGToJPEGIsWhite(t *testing.T) {
	var b bytes.Buffer
	png.Encode(&b, image.NewNRGBA(image.Rect(0, 0, 320, 240))) // fully transparent
	out, err := Clean(Selfie, b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	img, err := jpeg.Decode(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if r, _, _, _ := img.At(10, 10).RGBA(); r < 0xf000 {
		t.Errorf("transparent pixel became %v, want white", img.At(10, 10))
	}
}

func FuzzClean(f *testing.F) {
	f.Add(uint8(KTPPhoto), jpegOf(f, 320, 200))
	f.Add(uint8(Selfie), pngOf(f, 240, 240))
	f.Add(uint8(Specimen), pngOf(f, 100, 40))
	f.Add(uint8(Specimen), withText(pngOf(f, 100, 40)))
	f.Add(uint8(Selfie), withEXIF(jpegOf(f, 240, 240)))
	f.Add(uint8(Selfie), bombPNG(50000, 50000))
	f.Add(uint8(KTPPhoto), []byte("not an image"))
	f.Fuzz(func(t *testing.T, k uint8, data []byte) {
		kind := Kind(k % 3)
		out, err := Clean(kind, data)
		if err != nil {
			if MessageKey(err) == "" {
				t.Fatalf("error without message key: %v", err)
			}
			return
		}
		in, _, err := image.DecodeConfig(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("accepted input whose config does not decode: %v", err)
		}
		img, _, err := image.Decode(bytes.NewReader(out))
		if err != nil {
			t.Fatalf("output does not decode: %v", err)
		}
		if b := img.Bounds(); b.Dx() != in.Width || b.Dy() != in.Height {
			t.Fatalf("output %v, input %dx%d", b, in.Width, in.Height)
		}
	})
}

func BenchmarkClean(b *testing.B) {
	data := jpegOf(b, 1600, 1000)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Clean(KTPPhoto, data); err != nil {
			b.Fatal(err)
		}
	}
}

package portal_test

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/jpeg"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// bombPNG is a valid PNG header claiming width x height pixels, with a tiny
// body: decoding it would allocate gigabytes.
func bombPNG(width, height uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		binary.Write(&b, binary.BigEndian, uint32(len(data)))
		b.WriteString(typ)
		b.Write(data)
		crc := crc32.NewIEEE()
		crc.Write([]byte(typ))
		crc.Write(data)
		binary.Write(&b, binary.BigEndian, crc.Sum32())
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], width)
	binary.BigEndian.PutUint32(ihdr[4:], height)
	ihdr[8], ihdr[9] = 8, 6 // 8-bit RGBA
	chunk("IHDR", ihdr)
	chunk("IDAT", []byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01})
	chunk("IEND", nil)
	return b.Bytes()
}

func truncatedJPEG(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	img := image.NewRGBA(image.Rect(0, 0, 640, 480))
	for i := range img.Pix {
		img.Pix[i] = byte(i * 7)
	}
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()[:b.Len()/2]
}

// TestUploadRefusals sends the bad uploads of issue 4 as a selfie: each is
// refused with its message in the user's language, and nothing is kept.
func TestUploadRefusals(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name   string
		data   []byte
		status int
		key    string
	}{
		{"text renamed .jpg", []byte("Ini bukan foto, hanya teks.\n"), http.StatusUnprocessableEntity, "upload.not_image"},
		{"6 MB file", bytes.Repeat([]byte{0xff, 0xd8, 0xff, 0xe0}, 6<<20/4), http.StatusRequestEntityTooLarge, "upload.too_large"},
		{"decompression bomb PNG", bombPNG(50000, 50000), http.StatusUnprocessableEntity, "upload.dimensions"},
		{"truncated JPEG", truncatedJPEG(t), http.StatusUnprocessableEntity, "upload.corrupt"},
	}
	for _, lang := range []string{"id", "en"} {
		b := e.browser()
		b.get("/?lang=" + lang)
		b.toFoto(budi())
		for _, tc := range tests {
			pg := b.postImage("/register/selfie", tc.data)
			if pg.status != tc.status || !strings.Contains(pg.body, mustMessage(t, e, lang, tc.key)) {
				t.Errorf("%s, %s: HTTP %d %s; want %d with the %s message", lang, tc.name, pg.status, pg.body, tc.status, tc.key)
			}
			if pg := b.get("/register/preview/selfie"); pg.status != http.StatusNotFound {
				t.Errorf("%s, %s: a selfie was kept: %d", lang, tc.name, pg.status)
			}
		}
	}
}

// TestImagesOnlyAtStepThree: an image sent before steps 1 and 2 are
// complete is not decoded or kept.
func TestImagesOnlyAtStepThree(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.get("/register/identitas")
	b.post("/register/identitas", url.Values{"name": {"Someone"}}) // step 1 incomplete
	if pg := b.postImage("/register/selfie", truncatedJPEG(t)); pg.status != http.StatusConflict {
		t.Errorf("selfie before step 3: HTTP %d, want 409", pg.status)
	}
	if pg := b.get("/register/preview/selfie"); pg.status != http.StatusNotFound {
		t.Errorf("a selfie was kept: %d", pg.status)
	}
	if pg := b.postMultipart("/register/foto", url.Values{"action": {"save"}}, "ktp.jpg", truncatedJPEG(t)); pg.path != "/register/identitas" {
		t.Errorf("Simpan Data before step 3 went to %s", pg.path)
	}
}

package identity

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"
)

var wib = time.FixedZone("WIB", 7*60*60)

// testNow is the default "now" of the NIK tests.
var testNow = time.Date(2026, time.January, 15, 10, 0, 0, 0, wib)

func date(y int, m time.Month, d int) time.Time {
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// longDigitRun finds runs of four or more digits: no error text may contain
// one, since any such run could be a piece of a NIK, a date or a number.
var longDigitRun = regexp.MustCompile(`[0-9]{4,}`)

func TestParseNIK(t *testing.T) {
	tests := []struct {
		name  string
		nik   string
		birth time.Time
		now   time.Time // testNow if zero
		err   error
		want  NIK // checked only if err is nil
	}{
		{name: "valid man", nik: "3201051705900001", birth: date(1990, 5, 17),
			want: NIK{Province: "32", Regency: "01", District: "05", BirthDate: date(1990, 5, 17), Serial: "0001"}},
		{name: "valid woman day+40", nik: "3273014308920002", birth: date(1992, 8, 3),
			want: NIK{Province: "32", Regency: "73", District: "01", BirthDate: date(1992, 8, 3), Female: true, Serial: "0002"}},
		{name: "valid woman 31st is 71", nik: "3578157112851234", birth: date(1985, 12, 31),
			want: NIK{Province: "35", Regency: "78", District: "15", BirthDate: date(1985, 12, 31), Female: true, Serial: "1234"}},
		{name: "valid 29 Feb 2000", nik: "3174012902000004", birth: date(2000, 2, 29),
			want: NIK{Province: "31", Regency: "74", District: "01", BirthDate: date(2000, 2, 29), Serial: "0004"}},
		{name: "valid Papua Barat Daya", nik: "9671020101809999", birth: date(1980, 1, 1),
			want: NIK{Province: "96", Regency: "71", District: "02", BirthDate: date(1980, 1, 1), Serial: "9999"}},
		{name: "birth date location and time of day ignored", nik: "1101011008750010",
			birth: time.Date(1975, 8, 10, 23, 59, 0, 0, wib),
			want:  NIK{Province: "11", Regency: "01", District: "01", BirthDate: date(1975, 8, 10), Serial: "0010"}},

		{name: "15 digits", nik: "320105170590001", birth: date(1990, 5, 17), err: ErrNIKLength},
		{name: "17 digits", nik: "32010517059000011", birth: date(1990, 5, 17), err: ErrNIKLength},
		{name: "empty", nik: "", birth: date(1990, 5, 17), err: ErrNIKLength},
		{name: "letter O for zero", nik: "32010517059O0001", birth: date(1990, 5, 17), err: ErrNIKNotDigits},
		{name: "letters and wrong length", nik: "NIK320105", birth: date(1990, 5, 17), err: ErrNIKNotDigits},
		{name: "spaces", nik: "3201 0517 0590 0001", birth: date(1990, 5, 17), err: ErrNIKNotDigits},
		{name: "dots", nik: "32.01.05.170590.0001", birth: date(1990, 5, 17), err: ErrNIKNotDigits},
		{name: "trailing newline", nik: "3201051705900001\n", birth: date(1990, 5, 17), err: ErrNIKNotDigits},
		{name: "fullwidth digits", nik: "３２０１０５１７０５９０００１", birth: date(1990, 5, 17), err: ErrNIKNotDigits},

		{name: "unknown province 20", nik: "2001051705900001", birth: date(1990, 5, 17), err: ErrNIKProvince},
		{name: "unknown province 99", nik: "9901051705900001", birth: date(1990, 5, 17), err: ErrNIKProvince},
		{name: "unknown province 00", nik: "0001051705900001", birth: date(1990, 5, 17), err: ErrNIKProvince},
		{name: "BPS code 97 is not Kemendagri", nik: "9701051705900001", birth: date(1990, 5, 17), err: ErrNIKProvince},
		{name: "regency 00", nik: "3200051705900001", birth: date(1990, 5, 17), err: ErrNIKRegion},
		{name: "district 00", nik: "3201001705900001", birth: date(1990, 5, 17), err: ErrNIKRegion},
		{name: "serial 0000", nik: "3201051705900000", birth: date(1990, 5, 17), err: ErrNIKSerial},

		{name: "31 Feb", nik: "3201053102990001", birth: date(1999, 2, 28), err: ErrNIKDate},
		{name: "31 Feb woman", nik: "3201057102990001", birth: date(1999, 2, 28), err: ErrNIKDate},
		{name: "29 Feb non-leap", nik: "3201052902990001", birth: date(1999, 3, 1), err: ErrNIKDate},
		{name: "31 Apr", nik: "3201053104900001", birth: date(1990, 4, 30), err: ErrNIKDate},
		{name: "day 00", nik: "3201050005900001", birth: date(1990, 5, 1), err: ErrNIKDate},
		{name: "day 32", nik: "3201053205900001", birth: date(1990, 5, 1), err: ErrNIKDate},
		{name: "day 40", nik: "3201054005900001", birth: date(1990, 5, 1), err: ErrNIKDate},
		{name: "day 72", nik: "3201057205900001", birth: date(1990, 5, 1), err: ErrNIKDate},
		{name: "month 00", nik: "3201051700900001", birth: date(1990, 5, 17), err: ErrNIKDate},
		{name: "month 13", nik: "3201051713900001", birth: date(1990, 5, 17), err: ErrNIKDate},

		{name: "year mismatch", nik: "3201051705900001", birth: date(1991, 5, 17), err: ErrNIKBirthMismatch},
		{name: "month mismatch", nik: "3201051705900001", birth: date(1990, 6, 17), err: ErrNIKBirthMismatch},
		{name: "day mismatch", nik: "3201051705900001", birth: date(1990, 5, 18), err: ErrNIKBirthMismatch},
		{name: "woman day entered as man", nik: "3273010308920002", birth: date(1992, 8, 13), err: ErrNIKBirthMismatch},
		{name: "29 Feb 1900 does not exist", nik: "3201052902000001", birth: time.Date(1900, 2, 29, 0, 0, 0, 0, time.UTC), err: ErrNIKBirthMismatch},
		{name: "zero birth date", nik: "3201051705900001", birth: time.Time{}, err: ErrNIKBirthMismatch},

		{name: "under 17", nik: "3201050103100001", birth: date(2010, 3, 1), err: ErrNIKAge},
		{name: "17 tomorrow", nik: "3201051601090001", birth: date(2009, 1, 16), err: ErrNIKAge},
		{name: "17 today", nik: "3201051501090001", birth: date(2009, 1, 15),
			want: NIK{Province: "32", Regency: "01", District: "05", BirthDate: date(2009, 1, 15), Serial: "0001"}},
		{name: "17 today in WIB although still yesterday in UTC", nik: "3201051501090001", birth: date(2009, 1, 15),
			now:  time.Date(2026, 1, 15, 0, 30, 0, 0, wib),
			want: NIK{Province: "32", Regency: "01", District: "05", BirthDate: date(2009, 1, 15), Serial: "0001"}},
		{name: "born 29 Feb not 17 on 28 Feb", nik: "3201052902080001", birth: date(2008, 2, 29),
			now: date(2025, 2, 28), err: ErrNIKAge},
		{name: "born 29 Feb is 17 on 1 Mar", nik: "3201052902080001", birth: date(2008, 2, 29),
			now:  date(2025, 3, 1),
			want: NIK{Province: "32", Regency: "01", District: "05", BirthDate: date(2008, 2, 29), Serial: "0001"}},
		{name: "future birth date", nik: "3201050106260001", birth: date(2026, 6, 1), err: ErrNIKAge},
		{name: "future century", nik: "3201051705900001", birth: date(2090, 5, 17), err: ErrNIKAge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := tt.now
			if now.IsZero() {
				now = testNow
			}
			got, err := ParseNIK(tt.nik, tt.birth, now)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("ParseNIK error = %v, want %v", err, tt.err)
				}
				checkNoLeak(t, err, tt.nik, tt.birth)
				return
			}
			if err != nil {
				t.Fatalf("ParseNIK: %v", err)
			}
			if got != tt.want {
				t.Errorf("ParseNIK = %#v, want %#v", fields(got), fields(tt.want))
			}
			if d := got.Digits(); d != tt.nik {
				t.Errorf("Digits() = %q, want %q", d, tt.nik)
			}
		})
	}
}

// fields shows a NIK unredacted, for test failures only.
func fields(n NIK) string {
	return fmt.Sprintf("{%s %s %s %s female=%v %s}", n.Province, n.Regency, n.District,
		n.BirthDate.Format(time.DateOnly), n.Female, n.Serial)
}

// checkNoLeak fails if err's text contains the NIK, the birth date or a
// run of four or more digits, or if err has no message key.
func checkNoLeak(t *testing.T, err error, nik string, birth time.Time) {
	t.Helper()
	msg := err.Error()
	if nik != "" && strings.Contains(msg, nik) {
		t.Errorf("error text %q contains the NIK", msg)
	}
	if longDigitRun.MatchString(msg) {
		t.Errorf("error text %q contains a run of digits", msg)
	}
	for _, layout := range []string{time.DateOnly, "02012006", "020106", "2 January 2006", "Jan 2"} {
		if strings.Contains(msg, birth.Format(layout)) {
			t.Errorf("error text %q contains the birth date", msg)
		}
	}
	if MessageKey(err) == "" {
		t.Errorf("error %q has no message key", msg)
	}
}

func TestParseNIKErrorsAreDistinct(t *testing.T) {
	// Each failure wraps exactly one sentinel.
	sentinels := []error{ErrNIKLength, ErrNIKNotDigits, ErrNIKProvince, ErrNIKRegion,
		ErrNIKDate, ErrNIKBirthMismatch, ErrNIKSerial, ErrNIKAge}
	inputs := []struct {
		nik   string
		birth time.Time
	}{
		{"320105170590001", date(1990, 5, 17)},
		{"32010517059000011", date(1990, 5, 17)},
		{"32010517059O0001", date(1990, 5, 17)},
		{"2001051705900001", date(1990, 5, 17)},
		{"3200051705900001", date(1990, 5, 17)},
		{"3201053102990001", date(1999, 2, 28)},
		{"3201051705900001", date(1991, 5, 17)},
		{"3201051705900000", date(1990, 5, 17)},
		{"3201050103100001", date(2010, 3, 1)},
	}
	for _, in := range inputs {
		_, err := ParseNIK(in.nik, in.birth, testNow)
		n := 0
		for _, s := range sentinels {
			if errors.Is(err, s) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("error %v matches %d sentinels, want 1", err, n)
		}
	}
}

func TestParseNIKLengthMessages(t *testing.T) {
	// "15 digits", "17 digits" and "letters" are told apart.
	_, err15 := ParseNIK("320105170590001", date(1990, 5, 17), testNow)
	_, err17 := ParseNIK("32010517059000011", date(1990, 5, 17), testNow)
	_, errL := ParseNIK("32010517059O0001", date(1990, 5, 17), testNow)
	if !strings.Contains(err15.Error(), "15 digits") || !strings.Contains(err17.Error(), "17 digits") {
		t.Errorf("length errors do not give the count: %q, %q", err15, err17)
	}
	if !strings.Contains(errL.Error(), "character 12 is not a digit") {
		t.Errorf("not-digit error does not name the position: %q", errL)
	}
}

func TestNIKRedacted(t *testing.T) {
	const digits = "3201051705900001"
	n, err := ParseNIK(digits, date(1990, 5, 17), testNow)
	if err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("applicant", "nik", n)
	for _, out := range []string{
		fmt.Sprint(n), fmt.Sprintf("%v %+v %#v %s", n, n, n, n), fmt.Sprintf("%v", &n), logged.String(),
	} {
		if strings.Contains(out, digits) || strings.Contains(out, "170590") || strings.Contains(out, "1990") {
			t.Errorf("formatted NIK leaks: %q", out)
		}
		if !strings.Contains(out, "32*") {
			t.Errorf("formatted NIK lost the province: %q", out)
		}
	}
}

func TestProvinces(t *testing.T) {
	if len(provinces) != 38 {
		t.Errorf("%d provinces, want 38", len(provinces))
	}
	for code, name := range provinces {
		if len(code) != 2 || atoi2(code) < 11 || atoi2(code) > 96 || name == "" {
			t.Errorf("bad province entry %q: %q", code, name)
		}
	}
	if name, ok := ProvinceName("34"); !ok || name != "DI Yogyakarta" {
		t.Errorf("ProvinceName(34) = %q, %v", name, ok)
	}
	if _, ok := ProvinceName("20"); ok {
		t.Error("ProvinceName(20) found")
	}
}

// fuzzNow is fixed so that fuzzing is reproducible.
var fuzzNow = time.Date(2026, time.January, 15, 0, 0, 0, 0, time.UTC)

func FuzzParseNIK(f *testing.F) {
	f.Add("3201051705900001", uint16(1990), uint8(5), uint8(17))
	f.Add("3273014308920002", uint16(1992), uint8(8), uint8(3))
	f.Add("3174012902000004", uint16(2000), uint8(2), uint8(29))
	f.Add("3201052902000001", uint16(1900), uint8(2), uint8(29))
	f.Add("3201053102990001", uint16(1999), uint8(2), uint8(28))
	f.Add("9671027112809999", uint16(1980), uint8(12), uint8(31))
	f.Add("320105170590001", uint16(1990), uint8(5), uint8(17))
	f.Add("3201 0517 0590 0001", uint16(1990), uint8(5), uint8(17))
	f.Add("", uint16(0), uint8(0), uint8(0))
	f.Fuzz(func(t *testing.T, s string, year uint16, month, day uint8) {
		birth := time.Date(int(year), time.Month(month), int(day), 0, 0, 0, 0, time.UTC)
		n, err := ParseNIK(s, birth, fuzzNow)
		if err != nil {
			if MessageKey(err) == "" {
				t.Fatalf("error %q has no message key", err)
			}
			if len(s) >= 6 && isDigits(s) && strings.Contains(err.Error(), s) {
				t.Fatalf("error %q contains the input", err)
			}
			return
		}
		by, bm, bd := birth.Date()
		ny, nm, nd := n.BirthDate.Date()
		if ny != by || nm != bm || nd != bd {
			t.Fatalf("birth date %v, want %v", n.BirthDate, birth)
		}
		day40 := nd
		if n.Female {
			day40 += 40
		}
		re := fmt.Sprintf("%s%s%s%02d%02d%02d%s", n.Province, n.Regency, n.District,
			day40, int(nm), ny%100, n.Serial)
		if re != s {
			t.Fatalf("re-formatted %q, want %q", re, s)
		}
		if d := n.Digits(); d != s {
			t.Fatalf("Digits() = %q, want %q", d, s)
		}
		if _, ok := ProvinceName(n.Province); !ok {
			t.Fatalf("unknown province accepted")
		}
		if n.Regency == "00" || n.District == "00" || n.Serial == "0000" {
			t.Fatalf("zero code accepted: %s", fields(n))
		}
		if n.BirthDate.AddDate(MinAge, 0, 0).After(fuzzNow) {
			t.Fatalf("too young accepted: %s", fields(n))
		}
	})
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

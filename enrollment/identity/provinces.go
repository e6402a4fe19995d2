package identity

// provinces maps the two-digit province code that opens every NIK to the
// province name.
//
// Source: the Kemendagri codes of Permendagri No. 72 Tahun 2019 as updated by
// Kepmendagri No. 100.1.1-6117 Tahun 2022 (Pemberian dan Pemutakhiran Kode,
// Data Wilayah Administrasi Pemerintahan, dan Pulau), which adds the four
// Papua provinces created in 2022 (93-96). These are the Kemendagri/Dukcapil
// codes used in NIKs, not the BPS statistical codes, which differ for Papua.
//
// A NIK keeps the code it was issued with when a province is later split, so
// older NIKs of people now living in, say, Papua Selatan start with 91.
var provinces = map[string]string{
	"11": "Aceh",
	"12": "Sumatera Utara",
	"13": "Sumatera Barat",
	"14": "Riau",
	"15": "Jambi",
	"16": "Sumatera Selatan",
	"17": "Bengkulu",
	"18": "Lampung",
	"19": "Kepulauan Bangka Belitung",
	"21": "Kepulauan Riau",
	"31": "DKI Jakarta",
	"32": "Jawa Barat",
	"33": "Jawa Tengah",
	"34": "DI Yogyakarta",
	"35": "Jawa Timur",
	"36": "Banten",
	"51": "Bali",
	"52": "Nusa Tenggara Barat",
	"53": "Nusa Tenggara Timur",
	"61": "Kalimantan Barat",
	"62": "Kalimantan Tengah",
	"63": "Kalimantan Selatan",
	"64": "Kalimantan Timur",
	"65": "Kalimantan Utara",
	"71": "Sulawesi Utara",
	"72": "Sulawesi Tengah",
	"73": "Sulawesi Selatan",
	"74": "Sulawesi Tenggara",
	"75": "Gorontalo",
	"76": "Sulawesi Barat",
	"81": "Maluku",
	"82": "Maluku Utara",
	"91": "Papua",
	"92": "Papua Barat",
	"93": "Papua Selatan",
	"94": "Papua Tengah",
	"95": "Papua Pegunungan",
	"96": "Papua Barat Daya",
}

// ProvinceName returns the name of the province with the given two-digit
// Kemendagri code and whether the code is known.
func ProvinceName(code string) (string, bool) {
	name, ok := provinces[code]
	return name, ok
}

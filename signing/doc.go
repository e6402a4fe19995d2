// Package signing signs PDFs with a subscriber's HSM-held key and checks
// uploaded and signed PDFs. It knows nothing of HTTP or storage: the
// portal calls Inspect on an upload, RenderPage for the placement preview,
// Sign with the subscriber's signer, and VerifyBytes for its signature log.
//
// # Format achieved
//
// Sign writes an approval signature as an incremental update (the
// original bytes are kept unchanged at the start of the output) with
// /Filter /Adobe.PPKLite and /SubFilter /ETSI.CAdES.detached, the PAdES
// baseline form (ETSI EN 319 142-1). /Contents holds a detached CMS
// SignedData, SHA-256, with ECDSA (ecdsa-with-SHA256) or RSA PKCS#1 v1.5:
//
//   - signed attributes: content-type (id-data), message-digest, ESS
//     signing-certificate-v2 (SHA-256 of the signer certificate, with
//     issuerSerial) and, when an OCSP response is given, Adobe's
//     adbe-revocationInfoArchival (1.2.840.113583.1.1.8) holding it; no
//     signing-time attribute (the claimed time is the dictionary's /M);
//   - certificates: the signer's, then Options.Chain (issuing CA, root);
//   - unsigned attribute: signature-time-stamp
//     (id-aa-signatureTimeStampToken, 1.2.840.113549.1.9.16.2.14), an
//     RFC 3161 token from Options.Timestamper over SHA-256 of the
//     signature value. Every signature is timestamped.
//
// That is PAdES baseline B-T. The visible signature is an image XObject
// (the specimen above the text lines, drawn in Go Regular and rasterised
// at four pixels per point, with an alpha soft mask), turned to stand
// upright on rotated pages.
//
// # Gaps
//
//   - B-LT: the validation data (the OCSP response, the certificates of
//     the chain and of the TSA, the CA's CRL) is not written to a Document
//     Security Store (/DSS, with /VRI) in a second incremental update. The
//     OCSP response for the signer certificate travels inside the CMS, in
//     the adbe-revocationInfoArchival signed attribute, which Adobe Reader
//     and the EU DSS validator read but EN 319 142-1 does not define for
//     ETSI.CAdES.detached (strict conformance checkers flag it as an
//     unknown component). Revocation data for the issuing CA and for the
//     TSA's certificate are not embedded at all.
//   - B-LTA: no document timestamp (/DocTimeStamp, ETSI.RFC3161).
//   - pdfsign (github.com/digitorus/pdfsign at v0.0.0-20250819064552)
//     writes only adbe.pkcs7.detached with a signing-time attribute and
//     takes a TSA only as a URL, so Sign uses it for the PDF structure
//     alone (signature dictionary, widget, appearance, AcroForm, xref):
//     it signs there with a throwaway key, and Sign then replaces the
//     SubFilter (same length, no offset moves) and the whole CMS with its
//     own. The dictionary keeps pdfsign's /Prop_Build name and, for an
//     approval signature, /TransformMethod /FieldMDP entries at its top
//     level, which readers ignore.
//   - The appearance text is raster, not selectable text; the signer's
//     name, reason and location are also in the signature dictionary.
//
// # Untrusted input
//
// Inspect checks size (MaxBytes), header and trailer, then runs
// qpdf --check in a separate process (see qpdfGate) and refuses files
// with any warning, then bounds the cross-reference data and nesting
// (preflight), then parses with digitorus/pdf with its panics recovered,
// walking the page tree with explicit bounds. The parser is not safe on
// malformed input by itself: it loops forever on a comment inside an
// array and dies on huge object numbers or deep nesting; the checks above
// are what keep those inputs away from it.
package signing

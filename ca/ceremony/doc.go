// Package ceremony runs the security officers' key ceremonies: one strict
// YAML file per ceremony, validated in full before the HSM is touched.
//
// Types: root (self-signed root CA), subordinate (CA certificate signed by a
// root key in the HSM), csr (a request for an external root) and import (its
// answer, checked against the key), ocsp-signer (delegated OCSP responder
// certificate), key (key generation only) and crl (a CRL signed by a CA key).
//
// Every certificate and CRL follows the same path: build the template, sign
// it with a throwaway key of the issuer's type and lint the result with
// zlint (any error or warning stops the ceremony), let the HSM sign the same
// template, check the signature and that the TBS bytes equal the linted
// ones, and lint once more. Outputs are created with O_EXCL, so a ceremony
// never overwrites a file. Each step is appended to a JSON-lines transcript
// and printed as it happens.
package ceremony

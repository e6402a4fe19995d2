package hsm

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/big"
	"sync"
	"sync/atomic"

	"github.com/miekg/pkcs11"
)

// DefaultSubscriberSessions bounds the PKCS#11 sessions a SubscriberKeys
// opens beside the token's crypto11 session pool.
const DefaultSubscriberSessions = 4

// findBatch is how many object handles one C_FindObjects call returns
// while the index is built.
const findBatch = 1000

// SubscriberKeys keeps the subscribers' signing keys (ECDSA P-256, one per
// subscriber) on the users token, and finds them without searching the
// token: it holds an index from CKA_LABEL to object handles, built once by
// enumerating the token's objects and kept up to date by its own
// Generate and Destroy. Looking a key up, generating one (the label check)
// and destroying one then cost the same with 100 or 100,000 keys on the
// token; see the package documentation for the measured figures and the
// trade-off.
//
// The keys are ordinary token objects with the same protections as
// Token.GenerateKeyPair gives (CKA_PRIVATE, CKA_SENSITIVE, never
// extractable, CKA_ID from the token RNG).
//
// The index is rebuilt whenever the Token re-opens its sessions (object
// handles do not survive that), so the first operation after a reconnect
// waits for one enumeration of the token. Keys created or destroyed on the
// token by anything else than this SubscriberKeys (another process,
// pkcs11-tool, Token.GenerateKeyPair) after the index was built are not
// seen until Refresh; a key destroyed behind its back fails with
// ErrKeyNotFound at its next use. So the appliance makes and destroys
// subscriber keys only through one SubscriberKeys per users token.
//
// It is safe for concurrent use.
type SubscriberKeys struct {
	tok         *Token
	p           *pkcs11.Ctx
	maxSessions int

	buildMu sync.Mutex // one index build at a time

	mu       sync.RWMutex
	cur      *subscriberIndex // nil: none yet, or dropped by a reconnect
	building *subscriberIndex // the index being built, so that a reset can stop it
	closed   bool
}

// SubscriberKeysOptions are the optional parts of Token.SubscriberKeys.
type SubscriberKeysOptions struct {
	// MaxSessions bounds the sessions opened for subscriber keys beside
	// the token's own pool (0: DefaultSubscriberSessions).
	MaxSessions int
}

// SubscriberKeys builds the index of the key pairs on t and returns the
// store that generates, finds and destroys subscriber keys through it.
// Building reads every object of the token once (measured on SoftHSM2 on
// 2 cores: about 0.3 ms per key pair, 30 s for 100,000). Close it before t.
func (t *Token) SubscriberKeys(ctx context.Context, opts SubscriberKeysOptions) (*SubscriberKeys, error) {
	n := opts.MaxSessions
	if n == 0 {
		n = DefaultSubscriberSessions
	}
	if n < 1 {
		return nil, errors.New("subscriber keys: MaxSessions must be at least 1")
	}
	t.mod.mu.Lock()
	p := t.mod.raw
	t.mod.mu.Unlock()
	if p == nil {
		return nil, errors.New("subscriber keys: the PKCS#11 module is closed")
	}
	k := &SubscriberKeys{tok: t, p: p, maxSessions: n}
	t.onReset(k, k.reset)
	if err := k.Refresh(ctx); err != nil {
		k.Close()
		return nil, err
	}
	return k, nil
}

// Refresh rebuilds the index from the token now, to see keys that other
// processes created or destroyed. The old index serves look-ups and
// signatures until the new one is ready; Generate and Destroy wait.
func (k *SubscriberKeys) Refresh(ctx context.Context) error {
	// Nothing may create or destroy a key between the enumeration and the
	// swap, or the new index would miss it.
	k.tok.genMu.Lock()
	defer k.tok.genMu.Unlock()
	err := k.tok.run("index_keys", true, func(cn conn) error {
		k.buildMu.Lock()
		defer k.buildMu.Unlock()
		x, err := k.build(cn)
		if err != nil {
			return err
		}
		old, err := k.publish(x)
		if err != nil {
			return err
		}
		if old != nil {
			old.replaced.Store(true)
			old.close()
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("index the keys of token %s: %w", k.tok.name, err)
	}
	k.tok.mod.log.InfoContext(ctx, "subscriber key index built", "token", k.tok.name, "key_pairs", k.Len())
	return nil
}

// Len is the number of labels that name exactly one usable key pair.
func (k *SubscriberKeys) Len() int {
	k.mu.RLock()
	x := k.cur
	k.mu.RUnlock()
	if x == nil {
		return 0
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.pairs
}

// Close closes the store's sessions. The Token stays open.
func (k *SubscriberKeys) Close() {
	k.tok.offReset(k)
	k.mu.Lock()
	k.closed = true
	cur, building := k.cur, k.building
	k.cur = nil
	k.mu.Unlock()
	for _, x := range []*subscriberIndex{building, cur} {
		if x != nil {
			x.replaced.Store(true)
			x.close()
		}
	}
}

// reset drops the index and closes its sessions. The Token calls it, with
// its lock held, before it replaces or closes its connection: the
// sessions are closed while their handles still belong to them (after the
// library is re-initialised the same numbers may name someone else's).
func (k *SubscriberKeys) reset() {
	k.mu.Lock()
	cur, building := k.cur, k.building
	k.cur = nil
	k.mu.Unlock()
	if building != nil {
		building.close()
	}
	if cur != nil {
		cur.close()
	}
}

// ready returns the index for connection cn, building it first if the
// connection is newer than the index.
func (k *SubscriberKeys) ready(cn conn) (*subscriberIndex, error) {
	k.mu.RLock()
	x, closed := k.cur, k.closed
	k.mu.RUnlock()
	if closed {
		return nil, errors.New("the subscriber key store is closed")
	}
	if x != nil && x.gen == cn.gen && !x.closed.Load() {
		return x, nil
	}
	k.buildMu.Lock()
	defer k.buildMu.Unlock()
	k.mu.RLock()
	x, closed = k.cur, k.closed
	k.mu.RUnlock()
	if closed {
		return nil, errors.New("the subscriber key store is closed")
	}
	if x != nil && !x.closed.Load() {
		if x.gen == cn.gen {
			return x, nil
		}
		if x.gen > cn.gen {
			// An older connection: the retry gets the current one.
			return nil, fmt.Errorf("subscriber key index: %w", ErrSessionLost)
		}
	}
	x, err := k.build(cn)
	if err != nil {
		return nil, err
	}
	// The index replaced, if any, belongs to an older connection and was
	// closed by the reset that ended it.
	if _, err := k.publish(x); err != nil {
		return nil, err
	}
	return x, nil
}

// publish makes x, which build returned, the current index and returns the
// one it replaces; unless a reset or Close stopped x since it was built.
func (k *SubscriberKeys) publish(x *subscriberIndex) (old *subscriberIndex, err error) {
	k.mu.Lock()
	if k.building == x {
		k.building = nil
	}
	closed := k.closed
	if !closed && !x.closed.Load() {
		old, k.cur = k.cur, x
	}
	k.mu.Unlock()
	switch {
	case closed:
		x.close()
		return nil, errors.New("the subscriber key store is closed")
	case x.closed.Load():
		return nil, fmt.Errorf("subscriber key index: %w", ErrSessionLost)
	}
	return old, nil
}

// errIndexReplaced means the index an operation started with was replaced
// by Refresh (not by a reconnect): the operation starts again locally.
var errIndexReplaced = errors.New("the subscriber key index was replaced")

// withIndex runs f with the index for connection cn.
func (k *SubscriberKeys) withIndex(cn conn, f func(*subscriberIndex) error) error {
	for range 3 {
		x, err := k.ready(cn)
		if err != nil {
			return err
		}
		if err = f(x); !errors.Is(err, errIndexReplaced) {
			return err
		}
	}
	return fmt.Errorf("subscriber key index: replaced three times during one operation: %w", ErrSessionLost)
}

// build enumerates the token's objects once (one C_FindObjects with an
// empty template, then the class, label, ID and key type of each).
func (k *SubscriberKeys) build(cn conn) (*subscriberIndex, error) {
	tokens, err := k.tok.mod.Tokens(context.Background())
	if err != nil {
		return nil, err
	}
	info, err := findToken(tokens, k.tok.sel)
	if err != nil {
		return nil, err
	}
	x := newSubscriberIndex(cn.gen, k.p, info.Slot, k.maxSessions)
	// Until publish, a reset finds x here and stops it.
	k.mu.Lock()
	k.building = x
	k.mu.Unlock()
	var handles []pkcs11.ObjectHandle
	err = x.withSession(func(s pkcs11.SessionHandle) error {
		if err := x.p.FindObjectsInit(s, nil); err != nil {
			return err
		}
		for {
			hs, _, err := x.p.FindObjects(s, findBatch)
			if err != nil {
				_ = x.p.FindObjectsFinal(s)
				return err
			}
			if len(hs) == 0 {
				break
			}
			handles = append(handles, hs...)
			if x.closed.Load() {
				_ = x.p.FindObjectsFinal(s)
				return fmt.Errorf("subscriber key index: %w", ErrSessionLost)
			}
		}
		return x.p.FindObjectsFinal(s)
	})
	if err == nil {
		err = x.readAll(handles)
	}
	if err != nil {
		k.mu.Lock()
		if k.building == x {
			k.building = nil
		}
		k.mu.Unlock()
		x.close()
		return nil, err
	}
	return x, nil
}

// readAll reads the attributes of the objects handles into the index. (Reading
// over several sessions at once was measured: SoftHSM2 gains nothing.)
func (x *subscriberIndex) readAll(handles []pkcs11.ObjectHandle) error {
	return x.withSession(func(s pkcs11.SessionHandle) error {
		for i, h := range handles {
			if i%256 == 0 && x.closed.Load() {
				return fmt.Errorf("subscriber key index: %w", ErrSessionLost)
			}
			o, ok, err := readKeyObject(x.p, s, h)
			if err != nil {
				return err
			}
			if ok {
				x.add(o)
			}
		}
		return nil
	})
}

// readKeyObject reads what the index keeps of object h; ok is false for
// objects that are not keys (certificates, data).
func readKeyObject(p *pkcs11.Ctx, s pkcs11.SessionHandle, h pkcs11.ObjectHandle) (o keyObject, ok bool, err error) {
	attrs, err := p.GetAttributeValue(s, h, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, nil),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, nil),
		pkcs11.NewAttribute(pkcs11.CKA_ID, nil),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, nil),
	})
	if errors.Is(err, pkcs11.Error(pkcs11.CKR_ATTRIBUTE_TYPE_INVALID)) || isHandleInvalid(err) {
		// No CKA_KEY_TYPE (or no CKA_ID): not a key. Or destroyed
		// since the search by someone else.
		return keyObject{}, false, nil
	}
	if err != nil {
		return keyObject{}, false, err
	}
	class := bytesToUint(attrs[0].Value)
	switch class {
	case pkcs11.CKO_PRIVATE_KEY, pkcs11.CKO_PUBLIC_KEY, pkcs11.CKO_SECRET_KEY:
	default:
		return keyObject{}, false, nil
	}
	return keyObject{handle: h, class: class, label: string(attrs[1].Value),
		id: append([]byte(nil), attrs[2].Value...), keyType: bytesToUint(attrs[3].Value)}, true, nil
}

// bytesToUint decodes a CK_ULONG attribute value (native byte order, as
// miekg/pkcs11 returns it).
func bytesToUint(b []byte) uint {
	switch len(b) {
	case 8:
		return uint(binary.NativeEndian.Uint64(b))
	case 4:
		return uint(binary.NativeEndian.Uint32(b))
	}
	return ^uint(0) // no class or key type this package knows
}

// Generate generates an ECDSA P-256 key pair labelled label with the
// protections of Token.GenerateKeyPair. A label already carried by any key
// on the token (as the index knows it) is refused with ErrLabelExists. The
// check is a map look-up, not a token search, so generation costs the same
// however many keys the token holds. It is not retried after a lost
// session; GenerateOrFind resumes safely.
func (k *SubscriberKeys) Generate(ctx context.Context, label string) (*SubscriberSigner, URI, error) {
	if label == "" {
		return nil, URI{}, errors.New("generate subscriber key: a key label is required")
	}
	t := k.tok
	t.genMu.Lock()
	defer t.genMu.Unlock()
	// Draw the CKA_ID before any session of the index is taken: the token
	// RNG goes through the Token, whose reconnect waits for those sessions.
	id := make([]byte, idLength)
	if _, err := io.ReadFull(t.Random(), id); err != nil {
		return nil, URI{}, fmt.Errorf("generate subscriber key %q: draw CKA_ID from the token RNG: %w", label, err)
	}
	var pub *ecdsa.PublicKey
	err := t.run("generate_key", false, func(cn conn) error {
		return k.withIndex(cn, func(x *subscriberIndex) error {
			return x.generate(label, id, &pub)
		})
	})
	if err != nil {
		return nil, URI{}, fmt.Errorf("generate subscriber key %q on token %s: %w", label, t.name, err)
	}
	t.mod.log.InfoContext(ctx, "key generated", "token", t.name, "label", label, "id", fmt.Sprintf("%x", id))
	uri := t.keyURI(label, id, "private")
	return &SubscriberSigner{k: k, uri: uri, pub: pub}, uri, nil
}

// generate makes the key pair (label, id) unless the label is taken.
func (x *subscriberIndex) generate(label string, id []byte, pub **ecdsa.PublicKey) error {
	if x.taken(label) {
		return ErrLabelExists
	}
	return x.withSession(func(s pkcs11.SessionHandle) error {
		pubT, privT := keyTemplates(id, label)
		pubT.AddIfNotPresent([]*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PUBLIC_KEY),
			pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_EC),
			pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, oidP256DER),
		})
		privT.AddIfNotPresent([]*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY),
			pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_EC),
		})
		mech := []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_EC_KEY_PAIR_GEN, nil)}
		pubH, privH, err := x.p.GenerateKeyPair(s, mech, pubT.ToSlice(), privT.ToSlice())
		if err != nil {
			return err
		}
		x.add(keyObject{handle: privH, class: pkcs11.CKO_PRIVATE_KEY, label: label, id: id, keyType: pkcs11.CKK_EC})
		x.add(keyObject{handle: pubH, class: pkcs11.CKO_PUBLIC_KEY, label: label, id: id, keyType: pkcs11.CKK_EC})
		p, err := readECPublicKey(x.p, s, pubH)
		if err != nil {
			return err
		}
		x.setPublic(label, id, p)
		*pub = p
		return nil
	})
}

// GenerateOrFind returns the public key of the key pair labelled label,
// generating it if the token has none: a resumed issuance finds the key an
// interrupted one made and never makes a second.
func (k *SubscriberKeys) GenerateOrFind(ctx context.Context, label string) (crypto.PublicKey, error) {
	s, err := k.Signer(ctx, label)
	if errors.Is(err, ErrKeyNotFound) {
		s, _, err = k.Generate(ctx, label)
	}
	if err != nil {
		return nil, err
	}
	return s.Public(), nil
}

// Signer finds the key pair labelled label in the index: ErrKeyNotFound if
// there is none, ErrKeyAmbiguous if the label names more than one private
// key, ErrKeyTypeUnsupported if it is not an ECDSA P-256 or P-384 key.
func (k *SubscriberKeys) Signer(ctx context.Context, label string) (*SubscriberSigner, error) {
	var s *SubscriberSigner
	err := k.tok.run("find_key", true, func(cn conn) error {
		return k.withIndex(cn, func(x *subscriberIndex) error {
			pr, err := x.pair(label)
			if err != nil {
				return err
			}
			if pr.keyType != pkcs11.CKK_EC {
				return fmt.Errorf("object=%s: key type %#x: %w", label, pr.keyType, ErrKeyTypeUnsupported)
			}
			pub := pr.pub
			if pub == nil {
				err := x.withSession(func(sh pkcs11.SessionHandle) error {
					var err error
					pub, err = readECPublicKey(x.p, sh, pr.pubH)
					return x.stale(label, pr.pubH, err)
				})
				if err != nil {
					return err
				}
				x.setPublic(label, pr.id, pub)
			}
			s = &SubscriberSigner{k: k, uri: k.tok.keyURI(label, pr.id, "private"), pub: pub}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("find subscriber key %q on token %s: %w", label, k.tok.name, err)
	}
	return s, nil
}

// Destroy destroys the key pair labelled label: its private key and every
// public key object with the label. A label with no key is not an error
// (a revocation may be resumed after the key was destroyed); a label that
// names more than one private key is refused with ErrKeyAmbiguous. Signers
// of the key fail with ErrKeyNotFound afterwards.
func (k *SubscriberKeys) Destroy(ctx context.Context, label string) error {
	t := k.tok
	t.genMu.Lock()
	defer t.genMu.Unlock()
	var destroyed []keyObject
	err := t.run("destroy_key", false, func(cn conn) error {
		return k.withIndex(cn, func(x *subscriberIndex) error {
			return x.destroy(label, &destroyed)
		})
	})
	if err != nil {
		return fmt.Errorf("destroy subscriber key %q on token %s: %w", label, t.name, err)
	}
	if len(destroyed) > 0 {
		t.mod.log.InfoContext(ctx, "key pair destroyed", "token", t.name, "label", label,
			"id", fmt.Sprintf("%x", destroyed[0].id), "objects", len(destroyed))
	}
	return nil
}

// destroy destroys the key pair objects labelled label.
func (x *subscriberIndex) destroy(label string, destroyed *[]keyObject) error {
	objs := x.keyPairObjects(label)
	if len(objs) == 0 {
		return nil
	}
	privs := 0
	for _, o := range objs {
		if o.class == pkcs11.CKO_PRIVATE_KEY {
			privs++
		}
	}
	if privs > 1 {
		return fmt.Errorf("%d private keys are labelled %q: %w", privs, label, ErrKeyAmbiguous)
	}
	return x.withSession(func(s pkcs11.SessionHandle) error {
		// Private halves first (objs is sorted so): once the private
		// key is gone the key cannot sign, whatever happens next.
		for _, o := range objs {
			err := x.p.DestroyObject(s, o.handle)
			if err != nil && !isHandleInvalid(err) {
				return err
			}
			x.remove(label, o.handle)
			*destroyed = append(*destroyed, o)
		}
		return nil
	})
}

// SubscriberSigner is a crypto.Signer for one subscriber key. It names the
// key by label and CKA_ID and resolves it through the index at each
// signature, so it survives reconnects and stops working once the key is
// destroyed.
type SubscriberSigner struct {
	k   *SubscriberKeys
	uri URI
	pub crypto.PublicKey
}

// URI names the key, with its CKA_ID.
func (s *SubscriberSigner) URI() URI { return s.uri }

// Public returns the public half of the key.
func (s *SubscriberSigner) Public() crypto.PublicKey { return s.pub }

// Sign signs digest with CKM_ECDSA on the token and returns an ASN.1 DER
// signature. rand is ignored: the token draws the nonce.
func (s *SubscriberSigner) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if opts != nil {
		if h := opts.HashFunc(); h != 0 && len(digest) != h.Size() {
			return nil, fmt.Errorf("sign with %s: the digest has %d bytes, %s needs %d", s.uri, len(digest), h, h.Size())
		}
	}
	var sig []byte
	err := s.k.tok.run("sign", true, func(cn conn) error {
		return s.k.withIndex(cn, func(x *subscriberIndex) error {
			var err error
			sig, err = s.sign(x, digest)
			return err
		})
	})
	if err != nil {
		return nil, fmt.Errorf("sign with %s: %w", s.uri, err)
	}
	return sig, nil
}

func (s *SubscriberSigner) sign(x *subscriberIndex, digest []byte) (sig []byte, err error) {
	label := s.uri.Object
	pr, err := x.pair(label)
	if err == nil && !bytes.Equal(pr.id, s.uri.ID) {
		err = fmt.Errorf("%s: the label now names another key (CKA_ID %x): %w", s.uri, pr.id, ErrKeyNotFound)
	}
	if err != nil {
		return nil, err
	}
	err = x.withSession(func(sh pkcs11.SessionHandle) error {
		err := x.p.SignInit(sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_ECDSA, nil)}, pr.privH)
		if err == nil {
			var raw []byte
			if raw, err = x.p.Sign(sh, digest); err == nil {
				sig, err = ecdsaDER(raw)
				return err
			}
		}
		return x.stale(label, pr.privH, err)
	})
	return sig, err
}

// stale turns err into ErrKeyNotFound, and forgets object h labelled
// label, if err says the handle is stale: the key was destroyed behind the
// index's back. (The session itself is fine, or the error would say so, so
// there is no need to re-open every session.) Other errors pass as they are.
func (x *subscriberIndex) stale(label string, h pkcs11.ObjectHandle, err error) error {
	if !isHandleInvalid(err) {
		return err
	}
	x.remove(label, h)
	return fmt.Errorf("object=%s is no longer on the token (%v): %w", label, err, ErrKeyNotFound)
}

// isHandleInvalid reports whether err says an object handle is stale.
func isHandleInvalid(err error) bool {
	return errors.Is(err, pkcs11.Error(pkcs11.CKR_OBJECT_HANDLE_INVALID)) ||
		errors.Is(err, pkcs11.Error(pkcs11.CKR_KEY_HANDLE_INVALID))
}

// ecdsaDER turns the r||s signature of CKM_ECDSA into ASN.1 DER.
func ecdsaDER(raw []byte) ([]byte, error) {
	if len(raw) == 0 || len(raw)%2 != 0 {
		return nil, fmt.Errorf("CKM_ECDSA returned a %d-byte signature", len(raw))
	}
	n := len(raw) / 2
	return asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(raw[:n]), new(big.Int).SetBytes(raw[n:])})
}

// The DER encodings of the named curves as CKA_EC_PARAMS.
var (
	oidP256DER = mustMarshalOID(asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7})
	oidP384DER = mustMarshalOID(asn1.ObjectIdentifier{1, 3, 132, 0, 34})
)

func mustMarshalOID(oid asn1.ObjectIdentifier) []byte {
	b, err := asn1.Marshal(oid)
	if err != nil {
		panic(err)
	}
	return b
}

// readECPublicKey reads the EC public key object h.
func readECPublicKey(p *pkcs11.Ctx, s pkcs11.SessionHandle, h pkcs11.ObjectHandle) (*ecdsa.PublicKey, error) {
	attrs, err := p.GetAttributeValue(s, h, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, nil),
		pkcs11.NewAttribute(pkcs11.CKA_EC_POINT, nil),
	})
	if err != nil {
		return nil, err
	}
	var curve elliptic.Curve
	switch {
	case bytes.Equal(attrs[0].Value, oidP256DER):
		curve = elliptic.P256()
	case bytes.Equal(attrs[0].Value, oidP384DER):
		curve = elliptic.P384()
	default:
		return nil, fmt.Errorf("EC parameters %x: %w", attrs[0].Value, ErrKeyTypeUnsupported)
	}
	var point []byte
	if rest, err := asn1.Unmarshal(attrs[1].Value, &point); err != nil || len(rest) != 0 {
		point = attrs[1].Value // some tokens return the bare point
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(curve, point)
	if err != nil {
		return nil, fmt.Errorf("CKA_EC_POINT: %w", err)
	}
	return pub, nil
}

// keyObject is one key object as the index knows it.
type keyObject struct {
	handle  pkcs11.ObjectHandle
	class   uint
	label   string
	id      []byte
	keyType uint
}

// keyPair is a private key and its public half (same label and CKA_ID).
type keyPair struct {
	privH, pubH pkcs11.ObjectHandle
	id          []byte
	keyType     uint
	pub         *ecdsa.PublicKey // nil until read
}

// labelEntry is every key object carrying one label.
type labelEntry struct {
	objs  []keyObject
	pub   *ecdsa.PublicKey // of the pair whose CKA_ID is pubID, once read
	pubID []byte
}

// subscriberIndex is the index of one connection generation, with the
// sessions it uses.
type subscriberIndex struct {
	gen      uint64
	p        *pkcs11.Ctx
	slot     uint
	closed   atomic.Bool
	replaced atomic.Bool // closed by Refresh or Close, not by a reconnect

	// use is held shared while a session is in use and exclusively by
	// close, so that no session is closed under an operation.
	use   sync.RWMutex
	idle  chan pkcs11.SessionHandle
	slots chan struct{} // one token per open session

	mu      sync.RWMutex
	byLabel map[string]*labelEntry
	pairs   int // labels that name exactly one usable pair
}

func newSubscriberIndex(gen uint64, p *pkcs11.Ctx, slot uint, sessions int) *subscriberIndex {
	return &subscriberIndex{gen: gen, p: p, slot: slot,
		idle: make(chan pkcs11.SessionHandle, sessions), slots: make(chan struct{}, sessions),
		byLabel: make(map[string]*labelEntry)}
}

// withSession runs f with one of the index's sessions. A session that
// fails with a session-class error is closed rather than reused.
func (x *subscriberIndex) withSession(f func(pkcs11.SessionHandle) error) error {
	x.use.RLock()
	defer x.use.RUnlock()
	if x.closed.Load() {
		if x.replaced.Load() {
			return errIndexReplaced
		}
		return fmt.Errorf("subscriber key sessions: %w", ErrSessionLost)
	}
	var s pkcs11.SessionHandle
	select {
	case s = <-x.idle:
	default:
		select {
		case s = <-x.idle:
		case x.slots <- struct{}{}:
			var err error
			s, err = x.p.OpenSession(x.slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
			if err != nil {
				<-x.slots
				return fmt.Errorf("C_OpenSession: %w", err)
			}
		}
	}
	err := f(s)
	if err != nil && needsReconnect(err) && !isHandleInvalid(err) {
		// Not reused. A session the token already dropped is not closed
		// either: its number may be someone else's by now.
		if !errors.Is(err, pkcs11.Error(pkcs11.CKR_SESSION_HANDLE_INVALID)) &&
			!errors.Is(err, pkcs11.Error(pkcs11.CKR_SESSION_CLOSED)) {
			_ = x.p.CloseSession(s)
		}
		<-x.slots
		return err
	}
	x.idle <- s
	return err
}

// close stops the index: no new operation starts, running ones finish,
// then every session is closed.
func (x *subscriberIndex) close() {
	x.closed.Store(true)
	x.use.Lock()
	defer x.use.Unlock()
	for {
		select {
		case s := <-x.idle:
			_ = x.p.CloseSession(s)
			<-x.slots
		default:
			return
		}
	}
}

// add records o.
func (x *subscriberIndex) add(o keyObject) {
	x.mu.Lock()
	defer x.mu.Unlock()
	e := x.byLabel[o.label]
	if e == nil {
		e = &labelEntry{}
		x.byLabel[o.label] = e
	}
	before := e.usable()
	e.objs = append(e.objs, o)
	x.pairs += e.usable() - before
}

// remove forgets the object h labelled label.
func (x *subscriberIndex) remove(label string, h pkcs11.ObjectHandle) {
	x.mu.Lock()
	defer x.mu.Unlock()
	e := x.byLabel[label]
	if e == nil {
		return
	}
	before := e.usable()
	for i, o := range e.objs {
		if o.handle == h {
			e.objs = append(e.objs[:i:i], e.objs[i+1:]...)
			break
		}
	}
	x.pairs += e.usable() - before
	if len(e.objs) == 0 {
		delete(x.byLabel, label)
	}
}

// taken reports whether any key object carries label.
func (x *subscriberIndex) taken(label string) bool {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.byLabel[label] != nil
}

// pair returns the one key pair labelled label.
func (x *subscriberIndex) pair(label string) (keyPair, error) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	e := x.byLabel[label]
	if e == nil {
		return keyPair{}, fmt.Errorf("object=%s: %w", label, ErrKeyNotFound)
	}
	return e.pair(label)
}

// setPublic caches the public key of the pair (label, id).
func (x *subscriberIndex) setPublic(label string, id []byte, pub *ecdsa.PublicKey) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if e := x.byLabel[label]; e != nil {
		e.pub, e.pubID = pub, id
	}
}

// keyPairObjects returns the private and public key objects labelled
// label, private ones first.
func (x *subscriberIndex) keyPairObjects(label string) []keyObject {
	x.mu.RLock()
	defer x.mu.RUnlock()
	e := x.byLabel[label]
	if e == nil {
		return nil
	}
	var privs, pubs []keyObject
	for _, o := range e.objs {
		switch o.class {
		case pkcs11.CKO_PRIVATE_KEY:
			privs = append(privs, o)
		case pkcs11.CKO_PUBLIC_KEY:
			pubs = append(pubs, o)
		}
	}
	return append(privs, pubs...)
}

// find returns the private key of e and its public half (nil if none),
// and how many private keys e holds.
func (e *labelEntry) find() (priv, pub *keyObject, privs int) {
	for i := range e.objs {
		if e.objs[i].class == pkcs11.CKO_PRIVATE_KEY {
			priv = &e.objs[i]
			privs++
		}
	}
	if privs != 1 {
		return nil, nil, privs
	}
	for i := range e.objs {
		if e.objs[i].class == pkcs11.CKO_PUBLIC_KEY && bytes.Equal(e.objs[i].id, priv.id) {
			return priv, &e.objs[i], 1
		}
	}
	return priv, nil, 1
}

// pair returns the one key pair of e.
func (e *labelEntry) pair(label string) (keyPair, error) {
	priv, pub, privs := e.find()
	switch {
	case privs > 1:
		return keyPair{}, fmt.Errorf("object=%s: %d private keys: %w", label, privs, ErrKeyAmbiguous)
	case priv == nil:
		return keyPair{}, fmt.Errorf("object=%s: %w", label, ErrKeyNotFound)
	case pub == nil:
		return keyPair{}, fmt.Errorf("object=%s: the private key has no public half: %w", label, ErrKeyNotFound)
	}
	pr := keyPair{privH: priv.handle, pubH: pub.handle, id: priv.id, keyType: priv.keyType}
	if bytes.Equal(e.pubID, priv.id) {
		pr.pub = e.pub
	}
	return pr, nil
}

// usable is 1 if e names exactly one key pair, else 0.
func (e *labelEntry) usable() int {
	if _, pub, _ := e.find(); pub != nil {
		return 1
	}
	return 0
}

// onReset registers f to run, with t's lock held, before t replaces or
// closes its connection.
func (t *Token) onReset(key any, f func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.resetHooks == nil {
		t.resetHooks = make(map[any]func())
	}
	t.resetHooks[key] = f
}

// offReset removes the function registered under key.
func (t *Token) offReset(key any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.resetHooks, key)
}

// runResetHooks runs the registered functions; t.mu is held.
func (t *Token) runResetHooks() {
	for _, f := range t.resetHooks {
		f()
	}
}

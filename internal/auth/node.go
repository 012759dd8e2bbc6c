package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"iter"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Names of the node-signature extFields.
const (
	FieldNodeTime  = "SkiffNodeTime"
	FieldNodeNonce = "SkiffNodeNonce"
	FieldNodeSig   = "SkiffNodeSig"
)

// MinSecretLen is the shortest cluster secret accepted, in bytes.
const MinSecretLen = 16

// Errors of node authentication. Messages never contain a secret or a signature.
var (
	ErrNodeUnsigned  = errors.New("auth: request carries no node signature")
	ErrNodeBadSig    = errors.New("auth: node signature does not verify")
	ErrNodeStale     = errors.New("auth: node signature time outside the accepted window")
	ErrNodeReplay    = errors.New("auth: node signature nonce already used")
	ErrNodeMalformed = errors.New("auth: malformed node signature fields")
	ErrNodeBusy      = errors.New("auth: too many recent node signatures")
)

// nodeDomain starts every node-signed content; v2 length-prefixes keys and values (v1 joined them
// as key=value lines, so a value holding "\n" or "=" could be re-split into other fields under the
// same signature).
const nodeDomain = "skiff-node-v2\n"

func nodeMAC(secret []byte, code int32, fields iter.Seq2[string, string], body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	writeNodeContent(m, code, fields, body)
	return m.Sum(nil)
}

// writeNodeContent writes what a node signature covers: the domain, the request code, then every
// field but SkiffNodeSig in key order (of a repeated key the last value, as handlers read it), each
// as len(key) ':' key len(value) ':' value, then "\n" and the body. Lengths make the encoding
// unambiguous: no other set of fields and body writes the same bytes.
func writeNodeContent(h hash.Hash, code int32, fields iter.Seq2[string, string], body []byte) {
	var num [20]byte
	_, _ = h.Write([]byte(nodeDomain))
	_, _ = h.Write(strconv.AppendInt(num[:0], int64(code), 10))
	_, _ = h.Write([]byte{'\n'})
	c := GetContent()
	c.AddAll(fields)
	c.each(func(k, v string) {
		if k == FieldNodeSig {
			return
		}
		for _, s := range [2]string{k, v} {
			_, _ = h.Write(append(strconv.AppendInt(num[:0], int64(len(s)), 10), ':'))
			_, _ = h.Write([]byte(s))
		}
	})
	c.Release()
	_, _ = h.Write([]byte{'\n'})
	_, _ = h.Write(body)
}

// SignNode adds SkiffNodeTime, SkiffNodeNonce and SkiffNodeSig to ext for a request with code and
// body, signed with secret at now.
func SignNode(secret []byte, code int32, ext map[string]string, body []byte, now time.Time) {
	SignNodeFields(secret, code, func(k, v string) { ext[k] = v }, mapSeq(ext), body, now)
}

// SignNodeFields is SignNode for any header form: set writes one extField (replacing an earlier
// value) and fields enumerates them after the writes; SkiffNodeSig is not part of the content,
// so an old one need not be removed first.
func SignNodeFields(secret []byte, code int32, set func(k, v string), fields iter.Seq2[string, string], body []byte, now time.Time) {
	var n [16]byte
	_, _ = rand.Read(n[:])
	set(FieldNodeTime, strconv.FormatInt(now.UnixMilli(), 10))
	set(FieldNodeNonce, hex.EncodeToString(n[:]))
	set(FieldNodeSig, base64.StdEncoding.EncodeToString(nodeMAC(secret, code, fields, body)))
}

func mapSeq(m map[string]string) iter.Seq2[string, string] {
	return func(yield func(string, string) bool) {
		for k, v := range m {
			if !yield(k, v) {
				return
			}
		}
	}
}

// NodeVerifier checks node signatures and remembers accepted nonces for Window, so that each
// signed request is accepted once. Concurrency: a mutex guards the nonce table; Verify may be called
// from any goroutine. It has no goroutines: expired nonces are dropped during Verify.
type NodeVerifier struct {
	secret []byte
	window time.Duration
	max    int
	now    func() time.Time

	mu   sync.Mutex
	seen map[string]int64 // nonce -> unix ms after which it may be forgotten
	next int64            // unix ms of the next sweep
}

// NewNodeVerifier returns a verifier for secret. window bounds the clock difference between nodes
// (default 2 minutes); now is the clock (default time.Now).
func NewNodeVerifier(secret []byte, window time.Duration, now func() time.Time) *NodeVerifier {
	if window <= 0 {
		window = 2 * time.Minute
	}
	if now == nil {
		now = time.Now
	}
	return &NodeVerifier{secret: append([]byte(nil), secret...), window: window, max: 1 << 16, now: now, seen: map[string]int64{}}
}

// Signed reports whether the request carries a node signature at all.
func Signed(get func(string) (string, bool)) bool {
	_, ok := get(FieldNodeSig)
	return ok
}

// Verify checks the node signature of a request. get reads one extField; fields enumerates them.
func (v *NodeVerifier) Verify(code int32, get func(string) (string, bool), fields iter.Seq2[string, string], body []byte) error {
	sig, ok := get(FieldNodeSig)
	if !ok {
		return ErrNodeUnsigned
	}
	ts, ok1 := get(FieldNodeTime)
	nonce, ok2 := get(FieldNodeNonce)
	if !ok1 || !ok2 || len(nonce) != 32 {
		return ErrNodeMalformed
	}
	if _, err := hex.DecodeString(nonce); err != nil {
		return ErrNodeMalformed
	}
	ms, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return ErrNodeMalformed
	}
	want, err := base64.StdEncoding.DecodeString(sig)
	if err != nil || len(want) != sha256.Size {
		return ErrNodeMalformed
	}
	if !hmac.Equal(nodeMAC(v.secret, code, fields, body), want) {
		return ErrNodeBadSig
	}
	now := v.now().UnixMilli()
	w := v.window.Milliseconds()
	if ms < now-w || ms > now+w {
		return fmt.Errorf("%w: signed at %d, now %d, window %s", ErrNodeStale, ms, now, v.window)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if now >= v.next || len(v.seen) >= v.max {
		for n, exp := range v.seen {
			if exp < now {
				delete(v.seen, n)
			}
		}
		v.next = now + w
	}
	if _, dup := v.seen[nonce]; dup {
		return ErrNodeReplay
	}
	if len(v.seen) >= v.max {
		return ErrNodeBusy
	}
	// A nonce is remembered until its signature time leaves the window on either side. The key
	// is a copy: nonce may alias a request the server only lent (an inline request's read buffer).
	v.seen[strings.Clone(nonce)] = ms + w
	return nil
}

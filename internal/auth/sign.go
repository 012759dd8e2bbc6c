package auth

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"hash"
	"iter"
	"slices"
	"strings"
	"sync"
)

// Names of the ACL extFields (RocketMQ's SessionCredentials).
const (
	FieldAccessKey     = "AccessKey"
	FieldSignature     = "Signature"
	FieldSecurityToken = "SecurityToken"
	// FieldUniqueKeyQuery is the extField Java brokers leave out of the signed content.
	FieldUniqueKeyQuery = "_UNIQUE_KEY_QUERY"
)

type kv struct{ k, v string }

var pairPool = sync.Pool{New: func() any { s := make([]kv, 0, 16); return &s }}

// collect gathers the fields without skip, sorted by key. Release the slice with putPairs.
func collect(fields iter.Seq2[string, string], skip func(string) bool) *[]kv {
	p := pairPool.Get().(*[]kv)
	s := (*p)[:0]
	for k, v := range fields {
		if !skip(k) {
			s = append(s, kv{k, v})
		}
	}
	slices.SortFunc(s, func(a, b kv) int { return strings.Compare(a.k, b.k) })
	*p = s
	return p
}

func putPairs(p *[]kv) {
	clear(*p)
	*p = (*p)[:0]
	pairPool.Put(p)
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// writeContent writes the values of pairs, then body, into h. The values are gathered in a pooled
// buffer first: one Write instead of one string-to-bytes copy per field.
func writeContent(h hash.Hash, pairs []kv, body []byte) {
	bp := bufPool.Get().(*[]byte)
	buf := (*bp)[:0]
	for _, p := range pairs {
		buf = append(buf, p.v...)
	}
	_, _ = h.Write(buf)
	_, _ = h.Write(body)
	if cap(buf) <= 64<<10 {
		*bp = buf[:0]
		bufPool.Put(bp)
	}
}

// ACLContent returns RocketMQ's signed content: values of every field but Signature, ordered by
// key, then body. It allocates; servers use an ACLKey instead.
func ACLContent(fields iter.Seq2[string, string], body []byte) []byte {
	p := collect(fields, func(k string) bool { return k == FieldSignature })
	defer putPairs(p)
	var b []byte
	for _, kv := range *p {
		b = append(b, kv.v...)
	}
	return append(b, body...)
}

// SignACL returns the Signature a RocketMQ client sends for a request whose extFields (already
// holding AccessKey, and SecurityToken if used) and body are given.
func SignACL(secretKey string, fields iter.Seq2[string, string], body []byte) string {
	m := hmac.New(sha1.New, []byte(secretKey))
	p := collect(fields, func(k string) bool { return k == FieldSignature })
	writeContent(m, *p, body)
	putPairs(p)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// ACLKey verifies signatures for one secret key. It keeps a pool of HMAC states so a verification
// allocates almost nothing. It is safe for concurrent use.
type ACLKey struct {
	pool sync.Pool
}

// NewACLKey returns a verifier for secretKey.
func NewACLKey(secretKey string) *ACLKey {
	key := []byte(secretKey)
	k := &ACLKey{}
	k.pool.New = func() any { return hmac.New(sha1.New, key) }
	return k
}

// Verify reports whether signature is the base64 HMAC-SHA1 of the request's content under this
// key, comparing in constant time. See the package comment for the two accepted contents.
func (k *ACLKey) Verify(signature string, fields iter.Seq2[string, string], body []byte) bool {
	if len(signature) != base64.StdEncoding.EncodedLen(sha1.Size) {
		return false
	}
	var want [sha1.Size + 1]byte // DecodedLen(28) is 21
	if n, err := base64.StdEncoding.Decode(want[:], []byte(signature)); err != nil || n != sha1.Size {
		return false
	}
	hasGoVariant := false
	ok := k.check(want[:sha1.Size], fields, body, func(key string) bool {
		if key == FieldSecurityToken || key == FieldUniqueKeyQuery {
			hasGoVariant = true
		}
		return key == FieldSignature || key == FieldUniqueKeyQuery
	})
	if ok || !hasGoVariant {
		return ok
	}
	// The official Go client signs _UNIQUE_KEY_QUERY but not SecurityToken.
	return k.check(want[:sha1.Size], fields, body, func(key string) bool {
		return key == FieldSignature || key == FieldSecurityToken
	})
}

func (k *ACLKey) check(want []byte, fields iter.Seq2[string, string], body []byte, skip func(string) bool) bool {
	m := k.pool.Get().(hash.Hash)
	m.Reset()
	p := collect(fields, skip)
	writeContent(m, *p, body)
	putPairs(p)
	var sum [sha1.Size]byte
	ok := hmac.Equal(m.Sum(sum[:0]), want)
	k.pool.Put(m)
	return ok
}

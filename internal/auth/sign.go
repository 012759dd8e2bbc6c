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

	"github.com/skiffmq/skiff/internal/protocol"
)

// Names of the ACL extFields (RocketMQ's SessionCredentials).
const (
	FieldAccessKey     = "AccessKey"
	FieldSignature     = "Signature"
	FieldSecurityToken = "SecurityToken"
	// FieldUniqueKeyQuery is the extField Java brokers leave out of the signed content.
	FieldUniqueKeyQuery = "_UNIQUE_KEY_QUERY"
)

// kv is one gathered field; it is protocol.ExtField so that a decoded header's list is added in
// one copy (AddFields).
type kv = protocol.ExtField

// Content gathers the extFields of one request for a signature: add every field (in any order,
// duplicates included, exactly as they travelled), then hand it to ACLKey.Sign or
// ACLKey.VerifyContent. Fields are ordered by key once, with a stable sort; of several entries
// with the same key only the last one counts, as it does for the request's handlers
// (Command.Ext, the typed header decoders and Java's HashMap all keep the last), so the signature
// covers exactly what is acted upon. Take one with GetContent and give it back with Release; a
// Content is not safe for concurrent use.
type Content struct {
	pairs  []kv
	buf    []byte
	sorted bool
}

var contentPool = sync.Pool{New: func() any { return &Content{pairs: make([]kv, 0, 16), buf: make([]byte, 0, 512)} }}

// GetContent returns an empty Content from a pool.
func GetContent() *Content { return contentPool.Get().(*Content) }

// Release empties c and returns it to the pool; c must not be used afterwards.
func (c *Content) Release() {
	clear(c.pairs)
	c.pairs, c.buf, c.sorted = c.pairs[:0], c.buf[:0], false
	if cap(c.pairs) <= 1024 && cap(c.buf) <= 64<<10 {
		contentPool.Put(c)
	}
}

// Add adds one extField.
func (c *Content) Add(k, v string) {
	c.pairs = append(c.pairs, kv{Key: k, Value: v})
	c.sorted = false
}

// AddFields adds every entry of list (a decoded header's raw extFields, in wire order).
func (c *Content) AddFields(list []protocol.ExtField) {
	c.pairs = append(c.pairs, list...)
	c.sorted = false
}

// Field is Add in the shape of a Command.RangeExt callback: req.RangeExt(c.Field).
func (c *Content) Field(k, v string) bool {
	c.Add(k, v)
	return true
}

// AddAll adds every field of fields.
func (c *Content) AddAll(fields iter.Seq2[string, string]) {
	for k, v := range fields {
		c.Add(k, v)
	}
}

// insertionMax is the largest field count sorted by insertion (requests have about a dozen
// fields, usually arriving already sorted); more fall back to an O(n log n) sort so that a
// request with very many fields costs no quadratic time.
const insertionMax = 32

func (c *Content) sort() {
	if c.sorted {
		return
	}
	p := c.pairs
	if len(p) > insertionMax {
		slices.SortStableFunc(p, func(a, b kv) int { return strings.Compare(a.Key, b.Key) })
	} else {
		for i := 1; i < len(p); i++ {
			x, j := p[i], i
			for ; j > 0 && keyLess(x.Key, p[j-1].Key); j-- {
				p[j] = p[j-1]
			}
			p[j] = x
		}
	}
	c.sorted = true
}

// keyLess is a < b; keys mostly differ in their first byte, which spares the full comparison.
func keyLess(a, b string) bool {
	if len(a) > 0 && len(b) > 0 && a[0] != b[0] {
		return a[0] < b[0]
	}
	return a < b
}

// each calls fn for every field in key order, skipping earlier entries of a repeated key.
func (c *Content) each(fn func(k, v string)) {
	c.sort()
	p := c.pairs
	for i := range p {
		if i+1 < len(p) && p[i+1].Key == p[i].Key {
			continue
		}
		fn(p[i].Key, p[i].Value)
	}
}

// has reports whether a field k was added.
func (c *Content) has(k string) bool {
	for i := range c.pairs {
		if c.pairs[i].Key == k {
			return true
		}
	}
	return false
}

// values returns the concatenated values in key order, without the keys skip1 and skip2. The
// result aliases c's buffer.
func (c *Content) values(skip1, skip2 string) []byte {
	c.sort()
	buf, p := c.buf[:0], c.pairs
	for i := range p {
		if (i+1 < len(p) && p[i+1].Key == p[i].Key) || p[i].Key == skip1 || p[i].Key == skip2 {
			continue
		}
		buf = append(buf, p[i].Value...)
	}
	c.buf = buf
	return buf
}

// ACLContent returns RocketMQ's signed content: values of every field but Signature, ordered by
// key, then body. It allocates; signers and servers use an ACLKey instead.
func ACLContent(fields iter.Seq2[string, string], body []byte) []byte {
	c := GetContent()
	defer c.Release()
	c.AddAll(fields)
	return append(slices.Clone(c.values(FieldSignature, FieldSignature)), body...)
}

// SignACL returns the Signature a RocketMQ client sends for a request whose extFields (already
// holding AccessKey, and SecurityToken if used) and body are given. Code signing many requests
// with one key keeps an ACLKey instead.
func SignACL(secretKey string, fields iter.Seq2[string, string], body []byte) string {
	c := GetContent()
	defer c.Release()
	c.AddAll(fields)
	return NewACLKey(secretKey).Sign(c, body)
}

// ACLKey signs and verifies signatures for one secret key. It keeps a pool of HMAC-SHA1 states
// (reset, not rebuilt, between requests), so a signature allocates only its string and a
// verification nothing. It is safe for concurrent use.
type ACLKey struct {
	pool sync.Pool // of *macState
}

// macState is one pooled HMAC-SHA1 state with room for its result and for the concatenated
// values, so that neither a signature nor a verification moves a digest to the heap or needs a
// Content.
type macState struct {
	h   hash.Hash
	sum [sha1.Size]byte
	buf []byte // the values of SignList / VerifyList
}

// maxStateBuf is the largest values buffer a pooled state keeps.
const maxStateBuf = 64 << 10

// NewACLKey returns a signer and verifier for secretKey.
func NewACLKey(secretKey string) *ACLKey {
	key := []byte(secretKey)
	k := &ACLKey{}
	k.pool.New = func() any { return &macState{h: hmac.New(sha1.New, key)} }
	return k
}

// sum computes the HMAC of c's values (without skip1 and skip2) and body into m.sum, on a state
// from the pool (the caller puts m back).
func (k *ACLKey) sum(c *Content, body []byte, skip1, skip2 string) *macState {
	m := k.pool.Get().(*macState)
	m.h.Reset()
	_, _ = m.h.Write(c.values(skip1, skip2))
	_, _ = m.h.Write(body)
	m.h.Sum(m.sum[:0])
	return m
}

// Sign returns the Signature of a request whose extFields (already holding AccessKey, and
// SecurityToken if used) are in c: base64 of the HMAC-SHA1 of every value but Signature's, ordered
// by key, then body.
func (k *ACLKey) Sign(c *Content, body []byte) string {
	m := k.sum(c, body, FieldSignature, FieldSignature)
	var out [28]byte // base64.StdEncoding.EncodedLen(sha1.Size)
	base64.StdEncoding.Encode(out[:], m.sum[:])
	k.pool.Put(m)
	return string(out[:])
}

// listMax is the largest field list SignList and VerifyList order in place (as indices on the
// stack, by insertion like a Content); a longer one goes through a Content.
const listMax = insertionMax

// listOrder returns the indices of list in key order, stably (of equal keys the later entry comes
// later, as Content.sort leaves them), in ord; len(list) <= listMax. Lists usually arrive sorted
// (a map header is encoded in key order), which costs one comparison per field.
func listOrder(list []kv, ord *[listMax]uint8) []uint8 {
	o := ord[:len(list)]
	for i := range o {
		o[i] = uint8(i)
	}
	for i := 1; i < len(o); i++ {
		x, j := o[i], i
		for ; j > 0 && keyLess(list[x].Key, list[o[j-1]].Key); j-- {
			o[j] = o[j-1]
		}
		o[j] = x
	}
	return o
}

// appendValues is Content.values over list in the order o: the values in key order, of a
// repeated key only the last, without the keys skip1 and skip2.
func appendValues(buf []byte, list []kv, o []uint8, skip1, skip2 string) []byte {
	for i, x := range o {
		f := &list[x]
		if (i+1 < len(o) && list[o[i+1]].Key == f.Key) || f.Key == skip1 || f.Key == skip2 {
			continue
		}
		buf = append(buf, f.Value...)
	}
	return buf
}

// sumList is sum over list in the order o.
func (k *ACLKey) sumList(list []kv, o []uint8, body []byte, skip1, skip2 string) *macState {
	m := k.pool.Get().(*macState)
	m.buf = appendValues(m.buf[:0], list, o, skip1, skip2)
	m.h.Reset()
	_, _ = m.h.Write(m.buf)
	_, _ = m.h.Write(body)
	m.h.Sum(m.sum[:0])
	return m
}

// put returns m to the pool (dropping a values buffer grown too large).
func (k *ACLKey) put(m *macState) {
	if cap(m.buf) > maxStateBuf {
		m.buf = nil
	}
	k.pool.Put(m)
}

// SignList is Sign over a request's extFields given as a list (a header kept as a list, in any
// order; of a repeated key the last entry counts), without copying it into a Content.
func (k *ACLKey) SignList(list []protocol.ExtField, body []byte) string {
	if len(list) > listMax {
		c := GetContent()
		defer c.Release()
		c.AddFields(list)
		return k.Sign(c, body)
	}
	var ord [listMax]uint8
	m := k.sumList(list, listOrder(list, &ord), body, FieldSignature, FieldSignature)
	var out [28]byte // base64.StdEncoding.EncodedLen(sha1.Size)
	base64.StdEncoding.Encode(out[:], m.sum[:])
	k.put(m)
	return string(out[:])
}

// SignMap is Sign over a request's extFields given as a map.
func (k *ACLKey) SignMap(fields map[string]string, body []byte) string {
	if len(fields) > listMax {
		c := GetContent()
		defer c.Release()
		for key, v := range fields {
			c.Add(key, v)
		}
		return k.Sign(c, body)
	}
	var room [listMax]kv
	list := room[:0]
	for key, v := range fields {
		list = append(list, kv{Key: key, Value: v})
	}
	return k.SignList(list, body)
}

// decodeSignature decodes a received Signature into want; false when it cannot be one.
func decodeSignature(signature string, want *[sha1.Size + 1]byte) bool {
	if len(signature) != base64.StdEncoding.EncodedLen(sha1.Size) {
		return false
	}
	n, err := base64.StdEncoding.Decode(want[:], []byte(signature)) // DecodedLen(28) is 21
	return err == nil && n == sha1.Size
}

// VerifyList is VerifyContent over a request's extFields given as a list (as it travelled: any
// order, of a repeated key the last entry counts), without copying it into a Content.
func (k *ACLKey) VerifyList(signature string, list []protocol.ExtField, body []byte) bool {
	if len(list) > listMax {
		c := GetContent()
		defer c.Release()
		c.AddFields(list)
		return k.VerifyContent(signature, c, body)
	}
	var want [sha1.Size + 1]byte
	if !decodeSignature(signature, &want) {
		return false
	}
	var ord [listMax]uint8
	o := listOrder(list, &ord)
	m := k.sumList(list, o, body, FieldSignature, FieldUniqueKeyQuery)
	ok := hmac.Equal(m.sum[:], want[:sha1.Size])
	k.put(m)
	if ok {
		return true
	}
	if !listHas(list, FieldSecurityToken) && !listHas(list, FieldUniqueKeyQuery) {
		return false
	}
	// The official Go client signs _UNIQUE_KEY_QUERY but not SecurityToken.
	m = k.sumList(list, o, body, FieldSignature, FieldSecurityToken)
	ok = hmac.Equal(m.sum[:], want[:sha1.Size])
	k.put(m)
	return ok
}

// VerifyMap is VerifyContent over a request's extFields given as a map.
func (k *ACLKey) VerifyMap(signature string, fields map[string]string, body []byte) bool {
	if len(fields) > listMax {
		c := GetContent()
		defer c.Release()
		for key, v := range fields {
			c.Add(key, v)
		}
		return k.VerifyContent(signature, c, body)
	}
	var room [listMax]kv
	list := room[:0]
	for key, v := range fields {
		list = append(list, kv{Key: key, Value: v})
	}
	return k.VerifyList(signature, list, body)
}

func listHas(list []kv, key string) bool {
	for i := range list {
		if list[i].Key == key {
			return true
		}
	}
	return false
}

// Verify is VerifyContent over fields.
func (k *ACLKey) Verify(signature string, fields iter.Seq2[string, string], body []byte) bool {
	c := GetContent()
	defer c.Release()
	c.AddAll(fields)
	return k.VerifyContent(signature, c, body)
}

// VerifyContent reports whether signature is the base64 HMAC-SHA1 of the request's content (its
// extFields in c, then body) under this key, comparing in constant time. See the package comment
// for the two accepted contents.
func (k *ACLKey) VerifyContent(signature string, c *Content, body []byte) bool {
	var want [sha1.Size + 1]byte
	if !decodeSignature(signature, &want) {
		return false
	}
	m := k.sum(c, body, FieldSignature, FieldUniqueKeyQuery)
	ok := hmac.Equal(m.sum[:], want[:sha1.Size])
	k.pool.Put(m)
	if ok {
		return true
	}
	if !c.has(FieldSecurityToken) && !c.has(FieldUniqueKeyQuery) {
		return false
	}
	// The official Go client signs _UNIQUE_KEY_QUERY but not SecurityToken.
	m = k.sum(c, body, FieldSignature, FieldSecurityToken)
	ok = hmac.Equal(m.sum[:], want[:sha1.Size])
	k.pool.Put(m)
	return ok
}

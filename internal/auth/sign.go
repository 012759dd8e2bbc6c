package auth

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"hash"
	"iter"
	"slices"
	"strings"
	"sync"

	"github.com/skiffmq/skiff/internal/protocol"
	"github.com/skiffmq/skiff/internal/remoting"
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
// (reset, not rebuilt, between requests), each with room for many signature strings, so that
// neither a signature nor a verification allocates (but for a new room every sigsPerSlab
// signatures). It is safe for concurrent use.
type ACLKey struct {
	pool sync.Pool // of *macState
}

// macState is one pooled HMAC-SHA1 state with room for its result and for the concatenated
// values, so that neither a signature nor a verification moves a digest to the heap or needs a
// Content.
type macState struct {
	h    hash.Hash
	sum  [sha1.Size]byte
	buf  []byte // the values of SignList / VerifyList
	sigs []byte // room for Signature strings (signature)
}

// sigStride is the room one Signature string takes in a macState's slab (sigLen rounded up to a
// word, so that no two strings share one), and sigsPerSlab how many a slab holds (4 KiB).
const (
	sigStride   = (sigLen + 7) &^ 7
	sigsPerSlab = 4096 / sigStride
)

// signature returns the Signature for m.sum (base64) as a string carved from m's slab, so that
// signing allocates once per sigsPerSlab signatures rather than once each. A carved string's
// bytes are never written again (later strings go after it; a full slab is replaced, not
// reused), so it stays valid and immutable; the garbage collector frees a slab with its last
// string. The cost is that a request kept for long keeps its slab (4 KiB) alive.
func (m *macState) signature() string {
	if cap(m.sigs)-len(m.sigs) < sigStride {
		m.sigs = make([]byte, 0, sigsPerSlab*sigStride)
	}
	n := len(m.sigs)
	m.sigs = m.sigs[:n+sigStride]
	out := m.sigs[n : n+sigLen : n+sigLen]
	base64.StdEncoding.Encode(out, m.sum[:])
	return protocol.AliasString(out)
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
func (k *ACLKey) Sign(c *Content, body []byte) string { return k.signContent(c, body, FieldSignature) }

// signContent is Sign leaving the field skip out as well (FieldSignature: nothing more).
func (k *ACLKey) signContent(c *Content, body []byte, skip string) string {
	m := k.sum(c, body, FieldSignature, skip)
	sig := m.signature()
	k.pool.Put(m)
	return sig
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

// appendInOrder is appendValues for a list made of at most two runs in key order, without an
// order: a list already in key order (a JSON map header arrives sorted) or one in key order
// followed by a few fields in key order (the SDK's SEND_MESSAGE_V2 list, then AccessKey and
// Signature), merged in one pass. It returns false, and a buf to discard, for a list of more runs
// (a Java client's HashMap order), which goes through listOrder. As in listOrder, of equal keys
// the entry of the first run comes first, so the last entry of a key is the one that counts.
func appendInOrder(buf []byte, list []kv, skip1, skip2 string) ([]byte, bool) {
	n := len(list)
	s := n         // start of the second run
	strict := true // no key equals the one before it
	for i := 1; i < n; i++ {
		a, b := list[i-1].Key, list[i].Key
		if keyLess(a, b) {
			continue
		}
		if a == b {
			strict = false
			continue
		}
		if s < n {
			return buf, false // a third run
		}
		s = i
	}
	if strict && (s == n || keyLess(list[n-1].Key, list[0].Key)) {
		// No key repeats and the second run, if any, lies wholly before the first (the SDK's
		// list then AccessKey and Signature, whose capitals sort before its lower-case keys):
		// the values are the second run's then the first's, no merge needed.
		return appendSkip(appendSkip(buf, list[s:], skip1, skip2), list[:s], skip1, skip2), true
	}
	for i, j := 0, s; i < s || j < n; {
		var f *kv
		if i < s && (j == n || !keyLess(list[j].Key, list[i].Key)) {
			f = &list[i]
			i++
			if (i < s && sameKey(list[i].Key, f.Key)) || (j < n && sameKey(list[j].Key, f.Key)) {
				continue // a later entry of the same key counts
			}
		} else {
			f = &list[j]
			j++
			if j < n && sameKey(list[j].Key, f.Key) {
				continue
			}
		}
		if sameKey(f.Key, skip1) || sameKey(f.Key, skip2) {
			continue
		}
		buf = append(buf, f.Value...)
	}
	return buf, true
}

// appendSkip appends the values of list, whose keys are distinct, but for the keys skip1 and skip2.
func appendSkip(buf []byte, list []kv, skip1, skip2 string) []byte {
	for i := range list {
		if f := &list[i]; !sameKey(f.Key, skip1) && !sameKey(f.Key, skip2) {
			buf = append(buf, f.Value...)
		}
	}
	return buf
}

// sameKey is a == b, deciding on the length and the first byte before comparing the rest (a
// request's keys mostly differ in their first byte; AccessKey and Signature have the same length).
func sameKey(a, b string) bool {
	return len(a) == len(b) && (len(a) == 0 || a[0] == b[0]) && a == b
}

// sumList is sum over list (len(list) <= listMax, any order): one pass when it is one or two
// runs in key order (appendInOrder), else through listOrder.
func (k *ACLKey) sumList(list []kv, body []byte, skip1, skip2 string) *macState {
	m := k.pool.Get().(*macState)
	buf, ok := appendInOrder(m.buf[:0], list, skip1, skip2)
	if !ok {
		var ord [listMax]uint8
		buf = appendValues(m.buf[:0], list, listOrder(list, &ord), skip1, skip2)
	}
	m.buf = buf
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
	return k.signList(list, body, FieldSignature)
}

// signList is SignList leaving the field skip out as well (FieldSignature: nothing more).
func (k *ACLKey) signList(list []kv, body []byte, skip string) string {
	if len(list) > listMax {
		c := GetContent()
		defer c.Release()
		c.AddFields(list)
		return k.signContent(c, body, skip)
	}
	m := k.sumList(list, body, FieldSignature, skip)
	sig := m.signature()
	k.put(m)
	return sig
}

// SignMap is Sign over a request's extFields given as a map.
func (k *ACLKey) SignMap(fields map[string]string, body []byte) string {
	return k.signMap(fields, body, FieldSignature)
}

// signMap is SignMap leaving the field skip out as well (FieldSignature: nothing more).
func (k *ACLKey) signMap(fields map[string]string, body []byte, skip string) string {
	if len(fields) > listMax {
		c := GetContent()
		defer c.Release()
		for key, v := range fields {
			c.Add(key, v)
		}
		return k.signContent(c, body, skip)
	}
	var room [listMax]kv
	list := room[:0]
	for key, v := range fields {
		list = append(list, kv{Key: key, Value: v})
	}
	return k.signList(list, body, skip)
}

// SignCommand signs req (whose other extFields and body are final) as a RocketMQ ACL client does:
// it sets AccessKey, SecurityToken when securityToken is not empty, and the Signature over the
// header in whichever form req keeps it (a list, as it will travel, or a map), neither copied. An
// earlier Signature is left out of the content, so a retried request is simply signed again. The
// SDK's client.Credentials and the daemons' security.Signer both sign through it.
//
// _UNIQUE_KEY_QUERY (a query by unique key) is left out of the content too, as Java brokers leave
// it out when they verify: without it the content is exactly RocketMQ's (every field but
// Signature), and with it the signature verifies on a Java broker and on Skiff's (which also
// accepts the official Go client's content, with the flag and without SecurityToken) whether or
// not a SecurityToken is set. Signing the flag would fail both when a SecurityToken is set.
//
// A list header keeps the order it has, new fields appended, an existing one's last entry updated
// (the one the receiver reads; Command.SetExt would update the first): the producer's
// SEND_MESSAGE_V2 list is in key order and then AccessKey and Signature follow, two ordered runs,
// the second wholly before the first, that the signature and the receiver's verification read in
// one pass each (appendInOrder).
func (k *ACLKey) SignCommand(req *remoting.Command, accessKey, securityToken string) {
	if req.ExtFields != nil {
		req.ExtFields[FieldAccessKey] = accessKey
		if securityToken != "" {
			req.ExtFields[FieldSecurityToken] = securityToken
		}
		req.ExtFields[FieldSignature] = k.signMap(req.ExtFields, req.Body, FieldUniqueKeyQuery)
		return
	}
	list := req.RawExt()
	ak, tok, sig := aclSlots(list)
	list, _ = setAt(list, ak, FieldAccessKey, accessKey)
	if securityToken != "" {
		list, _ = setAt(list, tok, FieldSecurityToken, securityToken)
	}
	// The Signature's own entry is left out of the content, so it may be set after signing.
	list, at := setAt(list, sig, FieldSignature, "")
	list[at].Value = k.signList(list, req.Body, FieldUniqueKeyQuery)
	req.SetRawExt(list)
}

// aclSlots returns the index of the last entry of AccessKey, SecurityToken and Signature in list
// (-1 when absent), in one pass from the end.
func aclSlots(list []kv) (ak, tok, sig int) {
	ak, tok, sig = -1, -1, -1
	for i := len(list) - 1; i >= 0; i-- {
		switch k := list[i].Key; {
		case len(k) == len(FieldAccessKey) && k == FieldAccessKey: // == len(FieldSignature)
			ak = max(ak, i)
		case len(k) == len(FieldSignature) && k == FieldSignature:
			sig = max(sig, i)
		case len(k) == len(FieldSecurityToken) && k == FieldSecurityToken:
			tok = max(tok, i)
		}
	}
	return ak, tok, sig
}

// setAt sets field key to v in list at index i (its last entry, from aclSlots), or appends it
// when i is -1; it returns the list and the entry's index. It may write in list's array, as
// remoting.Command.SetExt does.
func setAt(list []kv, i int, key, v string) ([]kv, int) {
	if i < 0 {
		return append(list, kv{Key: key, Value: v}), len(list)
	}
	list[i].Value = v
	return list, i
}

// sigLen is the length of a Signature: base64.StdEncoding.EncodedLen(sha1.Size).
const sigLen = 28

// matches reports whether signature is the base64 of m's result, comparing the encoded strings
// in constant time (as Java brokers compare the strings; encoding 20 bytes is cheaper than
// decoding 28, and only the one canonical encoding matches).
func (m *macState) matches(signature string) bool {
	if len(signature) != sigLen {
		return false
	}
	var enc [sigLen]byte
	base64.StdEncoding.Encode(enc[:], m.sum[:])
	return subtle.ConstantTimeCompare(enc[:], []byte(signature)) == 1
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
	if len(signature) != sigLen {
		return false
	}
	m := k.sumList(list, body, FieldSignature, FieldUniqueKeyQuery)
	ok := m.matches(signature)
	k.put(m)
	if ok {
		return true
	}
	if !listHas(list, FieldSecurityToken) && !listHas(list, FieldUniqueKeyQuery) {
		return false
	}
	// The official Go client signs _UNIQUE_KEY_QUERY but not SecurityToken.
	m = k.sumList(list, body, FieldSignature, FieldSecurityToken)
	ok = m.matches(signature)
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
	if len(signature) != sigLen {
		return false
	}
	m := k.sum(c, body, FieldSignature, FieldUniqueKeyQuery)
	ok := m.matches(signature)
	k.pool.Put(m)
	if ok {
		return true
	}
	if !c.has(FieldSecurityToken) && !c.has(FieldUniqueKeyQuery) {
		return false
	}
	// The official Go client signs _UNIQUE_KEY_QUERY but not SecurityToken.
	m = k.sum(c, body, FieldSignature, FieldSecurityToken)
	ok = m.matches(signature)
	k.pool.Put(m)
	return ok
}

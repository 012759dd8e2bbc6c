package auth

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/skiffmq/skiff/internal/remoting"
)

// FuzzACLVerify feeds arbitrary signature fields and contents: Verify never panics, and a
// signature made by SignACL over the same fields always verifies.
func FuzzACLVerify(f *testing.F) {
	f.Add("RocketMQ", "12345678", "topic", "TopicTest", "sig", []byte("body"))
	f.Add("", "", FieldSecurityToken, "tok", "", []byte{})
	f.Add("a", "b", FieldUniqueKeyQuery, "true", "AAAAAAAAAAAAAAAAAAAAAAAAAAA=", []byte{0})
	f.Fuzz(func(t *testing.T, ak, sk, k, v, sig string, body []byte) {
		ext := map[string]string{FieldAccessKey: ak, k: v, FieldSignature: sig}
		key := NewACLKey(sk)
		_ = key.Verify(sig, maps.All(ext), body)
		ext[FieldSignature] = SignACL(sk, maps.All(ext), body)
		if !key.Verify(ext[FieldSignature], maps.All(ext), body) {
			t.Fatalf("own signature refused: %v", ext)
		}
	})
}

// FuzzNodeVerify feeds arbitrary node-signature fields: Verify never panics and never accepts
// fields it did not sign.
func FuzzNodeVerify(f *testing.F) {
	f.Add("1700000000000", "00112233445566778899aabbccddeeff", "AAAA", []byte("x"))
	f.Add("-1", "zz", "", []byte{})
	secret := []byte("0123456789abcdef-cluster")
	now := time.UnixMilli(1_700_000_000_000)
	f.Fuzz(func(t *testing.T, ts, nonce, sig string, body []byte) {
		v := NewNodeVerifier(secret, time.Minute, func() time.Time { return now })
		ext := map[string]string{FieldNodeTime: ts, FieldNodeNonce: nonce, FieldNodeSig: sig}
		get := func(k string) (string, bool) { s, ok := ext[k]; return s, ok }
		if err := v.Verify(103, get, maps.All(ext), body); err == nil {
			t.Fatalf("forged node signature accepted: %v", ext)
		}
	})
}

// FuzzHAHandshake feeds arbitrary hello and response bytes to both sides.
func FuzzHAHandshake(f *testing.F) {
	h := NewHAHello()
	f.Add(h.Bytes[:], make([]byte, HAResponseSize))
	f.Add([]byte("SKHA\x01"), []byte{1, 2, 3})
	secret := []byte("0123456789abcdef-cluster")
	f.Fuzz(func(t *testing.T, hello, resp []byte) {
		_, _, _ = HARespond(secret, hello)
		if _, err := h.Verify(secret, resp); err == nil {
			t.Fatal("arbitrary response verified")
		}
	})
}

// fuzzKeys are the keys FuzzACLSignList draws from: the ACL fields, ordinary ones, keys that share
// a first byte, and the empty key.
var fuzzKeys = []string{FieldAccessKey, FieldSignature, FieldSecurityToken, FieldUniqueKeyQuery, "topic", "tags",
	"t", "queueId", "a", "b", "bornTimestamp", "", "Sig", "topic2"}

// fuzzList builds a field list (any order, repeated keys) from data: each field takes a key by
// one byte and a value of up to 7 following bytes.
func fuzzList(data []byte) []kv {
	var list []kv
	for len(data) > 0 {
		k := fuzzKeys[int(data[0])%len(fuzzKeys)]
		n := min(int(data[0]>>4)%8, len(data)-1)
		list = append(list, kv{Key: k, Value: string(data[1 : 1+n])})
		data = data[1+n:]
	}
	return list
}

// refSign is the signature computed the plain way, independently of Content and of the list
// path: the last value of each key, keys sorted, the values but skip's concatenated, the body,
// HMAC-SHA1, base64.
func refSign(sk string, list []kv, body []byte, skip ...string) string {
	last := map[string]string{}
	for _, f := range list {
		last[f.Key] = f.Value
	}
	keys := slices.Sorted(maps.Keys(last))
	m := hmac.New(sha1.New, []byte(sk))
	for _, k := range keys {
		if !slices.Contains(skip, k) {
			m.Write([]byte(last[k]))
		}
	}
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// FuzzACLSignList: over arbitrary field lists (short and longer than listMax, any order, repeated
// keys), SignList and SignMap give the plain reference signature and the same as Sign over a
// Content; VerifyList and VerifyMap accept exactly the two contents VerifyContent accepts (Java's,
// and the Go client's when SecurityToken or _UNIQUE_KEY_QUERY is present) and refuse the
// signature of a changed body or of another secret.
func FuzzACLSignList(f *testing.F) {
	f.Add([]byte("\x04T\x00ak\x21sig\x12tk\x13q"), []byte("body"))
	f.Add([]byte{}, []byte{})
	f.Add(bytes.Repeat([]byte("\x34abc\x05\x19xy"), 20), []byte{0})
	f.Fuzz(func(t *testing.T, data, body []byte) {
		list := fuzzList(data)
		key := NewACLKey("fuzzSecret")
		want := refSign("fuzzSecret", list, body, FieldSignature)
		c := GetContent()
		c.AddFields(list)
		old := key.Sign(c, body)
		c.Release()
		if got := key.SignList(list, body); got != want || old != want {
			t.Fatalf("SignList %s, Sign(Content) %s, reference %s (%d fields)", got, old, want, len(list))
		}
		// The same fields in key order (stably: of a repeated key the last entry stays last) take
		// the one-pass path of an ordered list.
		sorted := slices.Clone(list)
		slices.SortStableFunc(sorted, func(a, b kv) int { return strings.Compare(a.Key, b.Key) })
		if got := key.SignList(sorted, body); got != want {
			t.Fatalf("SignList over the sorted list %s, reference %s", got, want)
		}
		// Two runs in key order (the SDK's list, then the ACL fields): merged in one pass.
		runs := slices.Clone(list)
		byKey := func(a, b kv) int { return strings.Compare(a.Key, b.Key) }
		slices.SortStableFunc(runs[:len(runs)/2], byKey)
		slices.SortStableFunc(runs[len(runs)/2:], byKey)
		if got, ref := key.SignList(runs, body), refSign("fuzzSecret", runs, body, FieldSignature); got != ref {
			t.Fatalf("SignList over two ordered runs %s, reference %s (%q)", got, ref, runs)
		}
		if ref := refSign("fuzzSecret", runs, body, FieldSignature, FieldUniqueKeyQuery); !key.VerifyList(ref, runs, body) {
			t.Fatalf("VerifyList refused the reference over two ordered runs %q", runs)
		}
		// The sorted list rotated: two runs, the second wholly before the first when no key
		// repeats (the SDK's list then AccessKey and Signature), read without a merge.
		rotated := append(slices.Clone(sorted[len(sorted)/2:]), sorted[:len(sorted)/2]...)
		if got, ref := key.SignList(rotated, body), refSign("fuzzSecret", rotated, body, FieldSignature); got != ref {
			t.Fatalf("SignList over a rotated ordered list %s, reference %s (%q)", got, ref, rotated)
		}
		if ref := refSign("fuzzSecret", rotated, body, FieldSignature, FieldUniqueKeyQuery); !key.VerifyList(ref, rotated, body) {
			t.Fatalf("VerifyList refused the reference over a rotated ordered list %q", rotated)
		}
		last := map[string]string{}
		for _, f := range list {
			last[f.Key] = f.Value
		}
		if got := key.SignMap(last, body); got != want {
			t.Fatalf("SignMap %s, reference %s", got, want)
		}
		java := refSign("fuzzSecret", list, body, FieldSignature, FieldUniqueKeyQuery)
		goClient := refSign("fuzzSecret", list, body, FieldSignature, FieldSecurityToken)
		_, tok := last[FieldSecurityToken]
		_, ukq := last[FieldUniqueKeyQuery]
		hasListed := tok || ukq
		bad := "A" + java[1:] // one character changed
		if java[0] == 'A' {
			bad = "B" + java[1:]
		}
		for _, tc := range []struct {
			sig  string
			want bool
		}{
			{java, true},
			{goClient, true}, // equal to java when neither key is present
			{want, want == java || (hasListed && want == goClient)},
			{refSign("fuzzSecret", list, append(slices.Clone(body), 1), FieldSignature, FieldUniqueKeyQuery), false},
			{refSign("otherSecret", list, body, FieldSignature, FieldUniqueKeyQuery), false},
			{"", false},
			{bad, hasListed && bad == goClient},
		} {
			c := GetContent()
			c.AddFields(list)
			ref := key.VerifyContent(tc.sig, c, body)
			c.Release()
			if got, gotMap := key.VerifyList(tc.sig, list, body), key.VerifyMap(tc.sig, last, body); got != tc.want || gotMap != tc.want || ref != tc.want {
				t.Fatalf("signature %q: VerifyList %v, VerifyMap %v, VerifyContent %v, want %v (fields %q)", tc.sig, got, gotMap, ref, tc.want, list)
			}
			if got := key.VerifyList(tc.sig, sorted, body); got != tc.want {
				t.Fatalf("signature %q: VerifyList over the sorted list %v, want %v (fields %q)", tc.sig, got, tc.want, sorted)
			}
		}
	})
}

// FuzzACLSignCommand: SignCommand over an arbitrary list header (any order, repeated keys, with or
// without a SecurityToken) leaves AccessKey, SecurityToken and Signature set once each as the last
// entry of their key, the Signature equal to the plain reference over the final list (what
// travels; without Signature and _UNIQUE_KEY_QUERY, as Java brokers verify), verifying and
// unchanged by a second signature (a retry); a map header gets the reference signature too.
func FuzzACLSignCommand(f *testing.F) {
	f.Add([]byte("\x04T\x00ak\x21sig\x12tk\x13q"), []byte("body"), "")
	f.Add([]byte("\x18a\x19b\x1ab"), []byte{}, "tok")
	f.Add([]byte{}, []byte{0}, "")
	f.Fuzz(func(t *testing.T, data, body []byte, token string) {
		list := fuzzList(data)
		key := NewACLKey("fuzzSecret")
		req := remoting.NewRequestList(remoting.SendMessageV2, body).SetRawExt(slices.Clone(list))
		key.SignCommand(req, "ak", token)
		first := slices.Clone(req.RawExt())
		key.SignCommand(req, "ak", token)
		out := req.RawExt()
		if !slices.Equal(out, first) {
			t.Fatalf("a second signature changed the list:\n%q\n%q", first, out)
		}
		if v, _ := req.Ext(FieldAccessKey); v != "ak" {
			t.Fatalf("AccessKey %q", v)
		}
		if v, ok := req.Ext(FieldSecurityToken); token != "" && v != token || token == "" && ok && !slices.ContainsFunc(list, func(f kv) bool { return f.Key == FieldSecurityToken }) {
			t.Fatalf("SecurityToken %q (%v), want %q", v, ok, token)
		}
		added := 0
		for _, k := range []string{FieldAccessKey, FieldSecurityToken, FieldSignature} {
			if !slices.ContainsFunc(list, func(f kv) bool { return f.Key == k }) && slices.ContainsFunc(out, func(f kv) bool { return f.Key == k }) {
				added++
			}
		}
		if len(out) != len(list)+added {
			t.Fatalf("%d fields became %d with %d new keys: %q", len(list), len(out), added, out)
		}
		sig := req.ExtValue(FieldSignature)
		if want := refSign("fuzzSecret", out, body, FieldSignature, FieldUniqueKeyQuery); sig != want {
			t.Fatalf("Signature %s, reference over the sent list %s", sig, want)
		}
		if !key.VerifyList(sig, out, body) {
			t.Fatalf("own signature refused: %q", out)
		}
		m := map[string]string{}
		for _, f := range list {
			m[f.Key] = f.Value
		}
		mreq := remoting.NewRequest(remoting.SendMessageV2, m, body)
		key.SignCommand(mreq, "ak", token)
		if got, want := mreq.ExtFields[FieldSignature], refSign("fuzzSecret", mreq.ExtList(), body, FieldSignature, FieldUniqueKeyQuery); got != want {
			t.Fatalf("map header: Signature %s, reference %s", got, want)
		}
	})
}

package auth

import (
	"maps"
	"testing"
	"time"
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

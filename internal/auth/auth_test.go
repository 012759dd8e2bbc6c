package auth

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"maps"
	"testing"
	"time"
)

// goClientSign reproduces, independently of SignACL, what rocketmq-client-go v2.1.2 does: the
// values of AccessKey and of every extField, ordered by key, then the body; SecurityToken is added
// after signing.
func goClientSign(ak, sk, token string, ext map[string]string, body []byte) map[string]string {
	out := maps.Clone(ext)
	out[FieldAccessKey] = ak
	keys := []string{FieldAccessKey}
	for k := range ext {
		keys = append(keys, k)
	}
	for i := range keys {
		for j := i + 1; j < len(keys); j++ {
			if keys[j] < keys[i] {
				keys[i], keys[j] = keys[j], keys[i]
			}
		}
	}
	var content []byte
	for _, k := range keys {
		content = append(content, out[k]...)
	}
	content = append(content, body...)
	m := hmac.New(sha1.New, []byte(sk))
	m.Write(content)
	out[FieldSignature] = base64.StdEncoding.EncodeToString(m.Sum(nil))
	if token != "" {
		out[FieldSecurityToken] = token
	}
	return out
}

func TestACLSignatureMatchesGoClient(t *testing.T) {
	ext := map[string]string{"topic": "TopicTest", "b": "x", "queueId": "3", "a": "1"}
	body := []byte("hello")
	signed := goClientSign("RocketMQ", "12345678", "", ext, body)
	k := NewACLKey("12345678")
	if !k.Verify(signed[FieldSignature], maps.All(signed), body) {
		t.Fatal("signature of the Go client's algorithm does not verify")
	}
	if got := SignACL("12345678", maps.All(signed), body); got != signed[FieldSignature] {
		t.Fatalf("SignACL = %s, want %s", got, signed[FieldSignature])
	}
	if NewACLKey("12345679").Verify(signed[FieldSignature], maps.All(signed), body) {
		t.Fatal("a wrong secret verified")
	}
	if k.Verify(signed[FieldSignature], maps.All(signed), []byte("hellp")) {
		t.Fatal("a changed body verified")
	}
	tampered := maps.Clone(signed)
	tampered["topic"] = "Other"
	if k.Verify(signed[FieldSignature], maps.All(tampered), body) {
		t.Fatal("a changed field verified")
	}
	for _, bad := range []string{"", "abc", signed[FieldSignature] + "=", "!!!!!!!!!!!!!!!!!!!!!!!!!!!!"} {
		if k.Verify(bad, maps.All(signed), body) {
			t.Fatalf("signature %q verified", bad)
		}
	}
}

func TestACLSignatureVariants(t *testing.T) {
	// Go client with a SecurityToken: the token is not part of its content.
	ext := map[string]string{"topic": "T"}
	signed := goClientSign("ak", "secret", "tok", ext, nil)
	if !NewACLKey("secret").Verify(signed[FieldSignature], maps.All(signed), nil) {
		t.Fatal("Go client's SecurityToken variant refused")
	}
	// Java client with a SecurityToken: the token is signed.
	java := map[string]string{"topic": "T", FieldAccessKey: "ak", FieldSecurityToken: "tok"}
	java[FieldSignature] = SignACL("secret", maps.All(java), nil)
	if !NewACLKey("secret").Verify(java[FieldSignature], maps.All(java), nil) {
		t.Fatal("Java SecurityToken content refused")
	}
	// Java leaves _UNIQUE_KEY_QUERY out; the Go client puts it in.
	q := map[string]string{"topic": "T", FieldUniqueKeyQuery: "true"}
	gq := goClientSign("ak", "secret", "", q, nil)
	if !NewACLKey("secret").Verify(gq[FieldSignature], maps.All(gq), nil) {
		t.Fatal("Go client's unique-key query refused")
	}
	jq := map[string]string{"topic": "T", FieldAccessKey: "ak"}
	jq[FieldSignature] = SignACL("secret", maps.All(jq), nil)
	jq[FieldUniqueKeyQuery] = "true"
	if !NewACLKey("secret").Verify(jq[FieldSignature], maps.All(jq), nil) {
		t.Fatal("Java's unique-key query refused")
	}
}

func TestNodeSignatureReplayAndWindow(t *testing.T) {
	secret := []byte("0123456789abcdef-cluster")
	now := time.UnixMilli(1_700_000_000_000)
	clock := func() time.Time { return now }
	v := NewNodeVerifier(secret, time.Minute, clock)
	ext := map[string]string{"brokerName": "b"}
	SignNode(secret, 103, ext, []byte("body"), now)
	get := func(m map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { s, ok := m[k]; return s, ok }
	}
	if err := v.Verify(103, get(ext), maps.All(ext), []byte("body")); err != nil {
		t.Fatalf("fresh signature: %v", err)
	}
	if err := v.Verify(103, get(ext), maps.All(ext), []byte("body")); !errors.Is(err, ErrNodeReplay) {
		t.Fatalf("replay: %v, want ErrNodeReplay", err)
	}
	other := map[string]string{"brokerName": "b"}
	SignNode([]byte("another-secret-0123456"), 103, other, []byte("body"), now)
	if err := v.Verify(103, get(other), maps.All(other), []byte("body")); !errors.Is(err, ErrNodeBadSig) {
		t.Fatalf("wrong secret: %v", err)
	}
	e2 := map[string]string{"brokerName": "b"}
	SignNode(secret, 103, e2, nil, now)
	if err := v.Verify(104, get(e2), maps.All(e2), nil); !errors.Is(err, ErrNodeBadSig) {
		t.Fatalf("other code: %v", err)
	}
	old := map[string]string{}
	SignNode(secret, 103, old, nil, now.Add(-2*time.Minute))
	if err := v.Verify(103, get(old), maps.All(old), nil); !errors.Is(err, ErrNodeStale) {
		t.Fatalf("stale: %v", err)
	}
	if err := v.Verify(103, get(map[string]string{}), maps.All(map[string]string{}), nil); !errors.Is(err, ErrNodeUnsigned) {
		t.Fatalf("unsigned: %v", err)
	}
	// Nonces are forgotten once their time left the window; the table does not grow forever.
	now = now.Add(3 * time.Minute)
	fresh := map[string]string{}
	SignNode(secret, 103, fresh, nil, now)
	if err := v.Verify(103, get(fresh), maps.All(fresh), nil); err != nil {
		t.Fatal(err)
	}
	v.mu.Lock()
	n := len(v.seen)
	v.mu.Unlock()
	if n != 1 {
		t.Fatalf("nonce table holds %d entries after expiry, want 1", n)
	}
}

func TestHAHandshake(t *testing.T) {
	secret := []byte("0123456789abcdef-cluster")
	hello := NewHAHello()
	resp, want, err := HARespond(secret, hello.Bytes[:])
	if err != nil {
		t.Fatal(err)
	}
	proof, err := hello.Verify(secret, resp[:])
	if err != nil {
		t.Fatal(err)
	}
	if err := HACheckProof(want, proof[:]); err != nil {
		t.Fatal(err)
	}
	// Wrong secret on the slave.
	bad, _, _ := HARespond([]byte("wrong-secret-0123456789"), hello.Bytes[:])
	if _, err := hello.Verify(secret, bad[:]); !errors.Is(err, ErrHABadProof) {
		t.Fatalf("wrong secret: %v", err)
	}
	// A recorded response replayed against a new hello.
	hello2 := NewHAHello()
	if _, err := hello2.Verify(secret, resp[:]); !errors.Is(err, ErrHABadProof) {
		t.Fatalf("replay: %v", err)
	}
	// A master without the secret: the slave rejects its proof.
	_, want2, _ := HARespond(secret, hello2.Bytes[:])
	fake, _ := hello2.Verify([]byte("wrong-secret-0123456789"), resp[:])
	if err := HACheckProof(want2, fake[:]); !errors.Is(err, ErrHABadProof) {
		t.Fatalf("fake master: %v", err)
	}
	// An old master speaking first with a heartbeat header is not a hello.
	if _, _, err := HARespond(secret, make([]byte, HAHelloSize)); !errors.Is(err, ErrHABadHello) {
		t.Fatalf("zero hello: %v", err)
	}
}

// TestNodeSignatureFieldsCannotBeReSplit: a node signature covers the exact fields and body: moving
// bytes between a key and its value, between fields, or between the last field and the body (which
// joined key=value lines, as v1 signed them, could not tell apart) breaks it.
func TestNodeSignatureFieldsCannotBeReSplit(t *testing.T) {
	secret := []byte("0123456789abcdef-cluster")
	now := time.UnixMilli(1_700_000_000_000)
	get := func(m map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { s, ok := m[k]; return s, ok }
	}
	for _, tc := range []struct {
		name                 string
		signed, forged       map[string]string
		signedBody, forgedBy string
	}{
		{"value re-split into two fields", map[string]string{"a": "x\nb=y"}, map[string]string{"a": "x", "b": "y"}, "", ""},
		{"key and value boundary", map[string]string{"a=b": "c"}, map[string]string{"a": "b=c"}, "", ""},
		{"last value and body", map[string]string{"k": "v"}, map[string]string{"k": "vw"}, "w", ""},
	} {
		SignNode(secret, 17, tc.signed, []byte(tc.signedBody), now)
		v := NewNodeVerifier(secret, time.Minute, func() time.Time { return now })
		for _, f := range []string{FieldNodeTime, FieldNodeNonce, FieldNodeSig} {
			tc.forged[f] = tc.signed[f]
		}
		if err := v.Verify(17, get(tc.forged), maps.All(tc.forged), []byte(tc.forgedBy)); !errors.Is(err, ErrNodeBadSig) {
			t.Errorf("%s: forged request verified (%v)", tc.name, err)
		}
		if err := v.Verify(17, get(tc.signed), maps.All(tc.signed), []byte(tc.signedBody)); err != nil {
			t.Errorf("%s: the signed request itself: %v", tc.name, err)
		}
	}
}

package security

import (
	"errors"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/skiffmq/skiff/internal/acl"
	"github.com/skiffmq/skiff/internal/auth"
	"github.com/skiffmq/skiff/internal/protocol"
	"github.com/skiffmq/skiff/internal/remoting"
)

func TestSecurityGuardNilWhenOff(t *testing.T) {
	if g := NewGuard(GuardConfig{}); g != nil {
		t.Fatal("a guard without ACL and secret must be nil (no hook, no cost)")
	}
	var g *Guard
	if who, err := g.CheckHTTPAdmin("1.2.3.4:5", "", ""); err != nil || !strings.HasPrefix(who, "anonymous") {
		t.Fatalf("HTTP actions with ACL off: %q %v", who, err)
	}
	g.Reload() // a nil guard is a no-op
}

func TestSecurityGuardHTTPAdminAndSigner(t *testing.T) {
	tab, err := acl.Parse([]byte("accounts:\n  - {accessKey: app, secretKey: appSecret}\n  - {accessKey: boss, secretKey: bossSecret, admin: true}\n"))
	if err != nil {
		t.Fatal(err)
	}
	g := NewGuard(GuardConfig{ACL: acl.NewAuthorizer(tab)})
	if who, err := g.CheckHTTPAdmin("1.2.3.4:5", "boss", "bossSecret"); err != nil || who != "boss@1.2.3.4:5" {
		t.Fatalf("admin: %q %v", who, err)
	}
	if _, err := g.CheckHTTPAdmin("1.2.3.4:5", "app", "appSecret"); !errors.Is(err, acl.ErrNotAdmin) {
		t.Fatalf("non-admin: %v", err)
	}
	// A request signed by Signer with inner credentials passes the guard; unsigned is refused.
	req := remoting.NewRequest(remoting.UpdateAndCreateTopic, map[string]string{"topic": "T"}, nil)
	(&Signer{AccessKey: "boss", SecretKey: "bossSecret"}).Sign(req)
	(&Signer{AccessKey: "boss", SecretKey: "bossSecret"}).Sign(req) // a retry signs the same command again
	if code, remark, ok := g.Authorize("1.2.3.4:5", req); !ok {
		t.Fatalf("signed admin request refused: %d %s", code, remark)
	}
	if code, _, ok := g.Authorize("1.2.3.4:5", remoting.NewRequest(remoting.UpdateAndCreateTopic, map[string]string{"topic": "T"}, nil)); ok || code != remoting.NoPermission {
		t.Fatalf("unsigned admin request: ok=%v code=%d", ok, code)
	}
}

func TestSecurityLoadSecret(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "s")
	if err := os.WriteFile(f, []byte("0123456789abcdefXYZ\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if s, err := LoadSecret("", f); err != nil || string(s) != "0123456789abcdefXYZ" {
		t.Fatalf("from file: %q %v", s, err)
	}
	if s, err := LoadSecret("", ""); err != nil || s != nil {
		t.Fatalf("none: %q %v", s, err)
	}
	if _, err := LoadSecret("", filepath.Join(dir, "missing")); err == nil {
		t.Fatal("a missing secret file accepted")
	}
}

// travelled returns the request a broker decodes from the frame of a SEND_MESSAGE whose header
// holds fields in this order, repeated keys included, as a client may send them (the decoder
// keeps one entry per key, with the last value).
func travelled(t *testing.T, fields []remoting.ExtField, body []byte) *remoting.Command {
	t.Helper()
	frame, err := remoting.NewRequestList(remoting.SendMessage, body).SetRawExt(fields).Encode()
	if err != nil {
		t.Fatal(err)
	}
	in, err := remoting.DecodeFrameRaw(frame[4:])
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// TestSecurityRepeatedKeyCountsOnlyItsLastValue: of a key repeated in one request, the signature
// covers and the permission check reads only the last value, the one the handlers act on (the
// send header decoder, Command.Ext): an earlier duplicate can neither get a request past the ACL
// nor stop one whose last values are signed and permitted. Each case is decided twice: on the
// request decoded from its frame (the wire decoder keeps the last value of a key) and on the
// in-process command that still holds every duplicate (the signature's own last-value rule).
func TestSecurityRepeatedKeyCountsOnlyItsLastValue(t *testing.T) {
	tab, err := acl.Parse([]byte("accounts:\n" +
		"  - {accessKey: app, secretKey: appSecret, defaultTopicPerm: DENY, topicPerms: [Allowed=PUB, Allowed2=PUB]}\n" +
		"  - {accessKey: boss, secretKey: bossSecret, admin: true}\n"))
	if err != nil {
		t.Fatal(err)
	}
	g := NewGuard(GuardConfig{ACL: acl.NewAuthorizer(tab)})
	body := []byte("body")
	base := []remoting.ExtField{{Key: "producerGroup", Value: "pg"}, {Key: "defaultTopic", Value: "TBW102"},
		{Key: "defaultTopicQueueNums", Value: "4"}, {Key: "queueId", Value: "0"}, {Key: "sysFlag", Value: "0"},
		{Key: "bornTimestamp", Value: "1700000000000"}, {Key: "flag", Value: "0"}}
	// sign returns the Signature of fields (without Signature) taking, for a repeated key, its
	// first value when first is set, else its last.
	sign := func(sk string, fields []remoting.ExtField, first bool) string {
		m := map[string]string{}
		for _, f := range fields {
			if _, seen := m[f.Key]; !seen || !first {
				m[f.Key] = f.Value
			}
		}
		return auth.SignACL(sk, maps.All(m), body)
	}
	cat := func(parts ...[]remoting.ExtField) []remoting.ExtField { return slices.Concat(parts...) }
	kv := func(k, v string) []remoting.ExtField { return []remoting.ExtField{{Key: k, Value: v}} }
	app := kv(auth.FieldAccessKey, "app")

	for _, tc := range []struct {
		name       string
		fields     []remoting.ExtField // without Signature
		signFirst  bool                // sign the first value of a repeated key (a captured signature)
		sigFields  []remoting.ExtField // fields to sign when not fields themselves
		extraSig   []remoting.ExtField // Signature entries placed before the real one
		wantTopic  string              // what the send handler reads
		wantOK     bool
		wantRemark string
	}{
		{name: "denied topic first, allowed last", fields: cat(app, kv("topic", "Denied"), base, kv("topic", "Allowed")),
			wantTopic: "Allowed", wantOK: true},
		{name: "allowed topic first, denied last", fields: cat(app, kv("topic", "Allowed"), base, kv("topic", "Denied")),
			wantTopic: "Denied", wantRemark: "resource=topic:Denied"},
		{name: "signature over the earlier value", fields: cat(app, kv("topic", "Allowed"), base, kv("topic", "Allowed2")),
			signFirst: true, wantTopic: "Allowed2", wantRemark: "signature check failed"},
		{name: "duplicate prepended to a signed request", fields: cat(kv("topic", "Denied"), app, kv("topic", "Allowed"), base),
			sigFields: cat(app, kv("topic", "Allowed"), base), wantTopic: "Allowed", wantOK: true},
		{name: "admin access key before the signer's", fields: cat(kv(auth.FieldAccessKey, "boss"), app, kv("topic", "Denied"), base),
			wantTopic: "Denied", wantRemark: "accessKey=app resource=topic:Denied"},
		{name: "a wrong signature after the right one", fields: cat(app, kv("topic", "Allowed"), base),
			wantTopic: "Allowed", wantRemark: "signature check failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sf := tc.fields
			if tc.sigFields != nil {
				sf = tc.sigFields
			}
			sig := kv(auth.FieldSignature, sign("appSecret", sf, tc.signFirst))
			all := cat(tc.fields, sig)
			if tc.name == "a wrong signature after the right one" {
				all = cat(tc.fields, sig, kv(auth.FieldSignature, sign("bossSecret", sf, false)))
			}
			raw := remoting.NewRequestList(remoting.SendMessage, body).SetRawExt(all)
			for form, req := range map[string]*remoting.Command{"decoded": travelled(t, all, body), "with duplicates": raw} {
				h, err := protocol.DecodeSendMessageRequestHeader(req.Code, req.RawExt())
				if err != nil {
					t.Fatal(err)
				}
				if h.Topic != tc.wantTopic || req.ExtValue("topic") != tc.wantTopic {
					t.Fatalf("%s: handler reads topic %q (Ext %q), the test expects %q", form, h.Topic, req.ExtValue("topic"), tc.wantTopic)
				}
				code, remark, ok := g.AuthorizeFrom("10.1.1.1:4000", netip.Addr{}, req)
				if ok != tc.wantOK || (!ok && (code != remoting.NoPermission || !strings.Contains(remark, tc.wantRemark))) {
					t.Fatalf("%s: ok=%v code=%d remark %q; want ok=%v remark containing %q", form, ok, code, remark, tc.wantOK, tc.wantRemark)
				}
			}
			if len(raw.RawExt()) != len(all) {
				t.Fatal("the in-process command lost its duplicates")
			}
		})
	}
}

// TestSecurityAuthorizeFromUsesTheParsedAddress: AuthorizeFrom decides by the address the caller
// parsed (the connection's), not by re-reading the "ip:port" string; the zero Addr falls back to
// the string.
func TestSecurityAuthorizeFromUsesTheParsedAddress(t *testing.T) {
	tab, err := acl.Parse([]byte("globalWhiteRemoteAddresses: [10.9.0.0/16]\naccounts:\n  - {accessKey: app, secretKey: appSecret}\n"))
	if err != nil {
		t.Fatal(err)
	}
	g := NewGuard(GuardConfig{ACL: acl.NewAuthorizer(tab)})
	req := remoting.NewRequest(remoting.SendMessage, map[string]string{"topic": "T"}, nil)
	if _, remark, ok := g.AuthorizeFrom("not-an-address", netip.MustParseAddr("10.9.8.7"), req); !ok {
		t.Fatalf("white parsed address refused: %s", remark)
	}
	if _, _, ok := g.AuthorizeFrom("10.9.8.7:1", netip.MustParseAddr("10.1.1.1"), req); ok {
		t.Fatal("decided by the string, not by the parsed address")
	}
	if _, _, ok := g.AuthorizeFrom("10.9.8.7:1", netip.Addr{}, req); !ok {
		t.Fatal("zero Addr: the string's white address refused")
	}
	if _, _, ok := g.Authorize("10.1.1.1:1", req); ok {
		t.Fatal("an unsigned request from a non-white address passed")
	}
}

package security

import (
	"net/netip"
	"testing"
	"unicode/utf8"

	"github.com/skiffmq/skiff/internal/acl"
	"github.com/skiffmq/skiff/internal/remoting"
)

// FuzzGuardFrame decides requests decoded from arbitrary frames, as the broker's hook does: the
// guard never panics; a SEND_MESSAGE with fuzzed fields signed by Signer (the map form a client
// builds) is accepted after the trip through a frame, and the same request with its body changed
// is refused.
func FuzzGuardFrame(f *testing.F) {
	tab, err := acl.Parse([]byte("accounts:\n  - {accessKey: fz, secretKey: fzSecret, defaultTopicPerm: PUB}\n"))
	if err != nil {
		f.Fatal(err)
	}
	g := NewGuard(GuardConfig{ACL: acl.NewAuthorizer(tab)})
	seed := remoting.NewRequest(remoting.SendMessage, map[string]string{"topic": "T", "queueId": "1"}, []byte("body"))
	(&Signer{AccessKey: "fz", SecretKey: "fzSecret"}).Sign(seed)
	frame, err := seed.Encode()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(frame[4:], "topic", "T", "k", "v", []byte("body"))
	f.Add([]byte{0, 0, 0, 2, '{', '}'}, "Signature", "x", "AccessKey", "fz", []byte{})
	f.Fuzz(func(t *testing.T, raw []byte, k1, v1, k2, v2 string, body []byte) {
		if req, err := remoting.DecodeFrameRaw(raw); err == nil {
			g.AuthorizeFrom("10.0.0.1:1", netip.AddrFrom4([4]byte{10, 0, 0, 1}), req)
		}
		if !utf8.ValidString(k1) || !utf8.ValidString(v1) || !utf8.ValidString(k2) || !utf8.ValidString(v2) {
			return // a JSON header carries text: invalid UTF-8 arrives as U+FFFD, unlike what was signed
		}
		req := remoting.NewRequest(remoting.SendMessage, map[string]string{"topic": "T", k1: v1, k2: v2}, body)
		(&Signer{AccessKey: "fz", SecretKey: "fzSecret"}).Sign(req)
		fr, err := req.Encode()
		if err != nil {
			return // a field that cannot travel (too long a header)
		}
		in, err := remoting.DecodeFrameRaw(fr[4:])
		if err != nil {
			t.Fatalf("own frame does not decode: %v", err)
		}
		if in.ExtValue("AccessKey") != "fz" || in.ExtValue("topic") == "" {
			return // a fuzzed field replaced the access key or emptied the topic
		}
		if _, remark, ok := g.AuthorizeFrom("10.0.0.1:1", netip.Addr{}, in); !ok {
			t.Fatalf("signed request refused after a frame trip: %s (fields %q=%q %q=%q)", remark, k1, v1, k2, v2)
		}
		in.Body = append(append([]byte(nil), in.Body...), 'x')
		if _, _, ok := g.AuthorizeFrom("10.0.0.1:1", netip.Addr{}, in); ok {
			t.Fatal("a request with a changed body passed")
		}
	})
}

package auth

import (
	"crypto/hmac"
	"crypto/sha1"
	"testing"

	"github.com/skiffmq/skiff/internal/protocol"
	"github.com/skiffmq/skiff/internal/remoting"
)

// BenchmarkSHA1 is the throughput of crypto/sha1 and of HMAC-SHA1 (a reused state, as ACLKey
// keeps) over a signed request's size (values and a 1 KiB body, about 1.2 KB). Go uses the CPU's
// SHA instructions when it has them (sha_ni in /proc/cpuinfo); compare with them switched off:
//
//	go test -run '^$' -bench SHA1 ./internal/auth/
//	GODEBUG=cpu.sha=off go test -run '^$' -bench SHA1 ./internal/auth/
func BenchmarkSHA1(b *testing.B) {
	buf := make([]byte, 1200)
	b.Run("sha1", func(b *testing.B) {
		b.SetBytes(int64(len(buf)))
		for b.Loop() {
			sha1.Sum(buf)
		}
	})
	b.Run("hmac-sha1", func(b *testing.B) {
		m := hmac.New(sha1.New, []byte("benchSecret"))
		var out [sha1.Size]byte
		b.SetBytes(int64(len(buf)))
		for b.Loop() {
			m.Reset()
			_, _ = m.Write(buf)
			m.Sum(out[:0])
		}
	})
}

// sdkSendList is a SEND_MESSAGE_V2 header as Skiff's producer builds it (short keys in key order,
// with properties as the e2e benchmark's messages carry them), with room for the ACL fields.
func sdkSendList() []protocol.ExtField {
	return append(make([]protocol.ExtField, 0, 17),
		protocol.ExtField{Key: "a", Value: "bench"}, protocol.ExtField{Key: "b", Value: "Bench"},
		protocol.ExtField{Key: "c", Value: "TBW102"}, protocol.ExtField{Key: "d", Value: "8"},
		protocol.ExtField{Key: "e", Value: "3"}, protocol.ExtField{Key: "f", Value: "0"},
		protocol.ExtField{Key: "g", Value: "1700000000000"}, protocol.ExtField{Key: "h", Value: "0"},
		protocol.ExtField{Key: "i", Value: "UNIQ_KEY\x017F0000010001B4AAC2E8251A2B3C4D5E6F\x02WAIT\x01true\x02TAGS\x01T\x02"},
		protocol.ExtField{Key: "j", Value: "0"}, protocol.ExtField{Key: "k", Value: "false"},
		protocol.ExtField{Key: "m", Value: "false"})
}

// BenchmarkACLSignCommand is the SDK's ACL cost per send (ACLKey.SignCommand over the producer's
// list header and a 1 KiB body), and BenchmarkACLVerifyList the broker's signature check of that
// request as it arrives; each minus BenchmarkSHA1/hmac-sha1 is what ACL adds beyond the HMAC.
//
//	go test -run '^$' -bench 'ACLSignCommand|ACLVerifyList|SHA1/hmac' -benchmem ./internal/auth/
func BenchmarkACLSignCommand(b *testing.B) {
	key := NewACLKey("benchSecret")
	body := make([]byte, 1024)
	tmpl := sdkSendList()
	list := make([]protocol.ExtField, 0, 17)
	req := remoting.NewRequestList(remoting.SendMessageV2, body)
	b.ReportAllocs()
	for b.Loop() {
		list = append(list[:0], tmpl...)
		req.SetRawExt(list)
		key.SignCommand(req, "benchKey", "")
	}
}

func BenchmarkACLVerifyList(b *testing.B) {
	key := NewACLKey("benchSecret")
	body := make([]byte, 1024)
	req := remoting.NewRequestList(remoting.SendMessageV2, body).SetRawExt(sdkSendList())
	key.SignCommand(req, "benchKey", "")
	list, sig := req.RawExt(), req.ExtValue(FieldSignature)
	b.ReportAllocs()
	for b.Loop() {
		if !key.VerifyList(sig, list, body) {
			b.Fatal("refused")
		}
	}
}

package security

import (
	"strconv"
	"testing"

	"github.com/skiffmq/skiff/internal/acl"
	"github.com/skiffmq/skiff/internal/protocol"
	"github.com/skiffmq/skiff/internal/remoting"
)

// sendExt is the extFields of a SEND_MESSAGE as the SDK's producer builds them.
func sendExt() map[string]string {
	return map[string]string{"producerGroup": "bench", "topic": "Bench", "defaultTopic": "TBW102",
		"defaultTopicQueueNums": "8", "queueId": "3", "sysFlag": "0", "bornTimestamp": strconv.Itoa(1700000000000),
		"flag": "0", "properties": "TAGS\x01T\x02", "reconsumeTimes": "0"}
}

// BenchmarkSignerSignSend is the sender's ACL cost per request: signing a SEND_MESSAGE (map
// header, ten fields, 1 KiB body) with inner credentials.
//
//	go test -run '^$' -bench 'SignerSignSend|GuardAuthorizeSend' -benchmem ./internal/security/
func BenchmarkSignerSignSend(b *testing.B) {
	s := &Signer{AccessKey: "benchKey", SecretKey: "benchSecret"}
	body := make([]byte, 1024)
	ext := sendExt()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		req := remoting.NewRequest(remoting.SendMessage, ext, body)
		s.Sign(req)
	}
}

// BenchmarkGuardAuthorizeSend is the broker's ACL cost per request: a signed SEND_MESSAGE
// decoded from its frame as the server does (header kept as a list), through Guard.Authorize
// (signature and PUB permission).
func BenchmarkGuardAuthorizeSend(b *testing.B) {
	tab, err := acl.Parse([]byte("accounts:\n  - {accessKey: benchKey, secretKey: benchSecret, defaultTopicPerm: DENY, topicPerms: [Bench=PUB]}\n"))
	if err != nil {
		b.Fatal(err)
	}
	g := NewGuard(GuardConfig{ACL: acl.NewAuthorizer(tab)})
	body := make([]byte, 1024)
	req := remoting.NewRequest(remoting.SendMessage, sendExt(), body)
	(&Signer{AccessKey: "benchKey", SecretKey: "benchSecret"}).Sign(req)
	frame, err := req.Encode()
	if err != nil {
		b.Fatal(err)
	}
	in, err := remoting.DecodeFrameRaw(frame[4:])
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if code, remark, ok := g.Authorize("127.0.0.1:50000", in); !ok {
			b.Fatal(code, remark)
		}
	}
}

// BenchmarkGuardAuthorizeSendCold is BenchmarkGuardAuthorizeSend over 8,192 different decoded
// requests (about 11 MB of frames, more than the caches hold), as a broker meets them: each
// verification reads a header and body that no core has touched recently. The difference to the
// hot benchmark is what cache misses add to the verification in a running broker.
func BenchmarkGuardAuthorizeSendCold(b *testing.B) {
	tab, err := acl.Parse([]byte("accounts:\n  - {accessKey: benchKey, secretKey: benchSecret, defaultTopicPerm: DENY, topicPerms: [Bench=PUB]}\n"))
	if err != nil {
		b.Fatal(err)
	}
	g := NewGuard(GuardConfig{ACL: acl.NewAuthorizer(tab)})
	s := &Signer{AccessKey: "benchKey", SecretKey: "benchSecret"}
	reqs := make([]*remoting.Command, 8192)
	for i := range reqs {
		body := make([]byte, 1024)
		body[0] = byte(i)
		req := remoting.NewRequest(remoting.SendMessage, sendExt(), body)
		s.Sign(req)
		frame, err := req.Encode()
		if err != nil {
			b.Fatal(err)
		}
		if reqs[i], err = remoting.DecodeFrameRaw(frame[4:]); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(1024)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if code, remark, ok := g.Authorize("127.0.0.1:50000", reqs[i%len(reqs)]); !ok {
			b.Fatal(code, remark)
		}
		i += 4099 // a stride, so that neighbouring frames are not prefetched
	}
}

// sendList is a SEND_MESSAGE_V2 as Skiff's SDK builds it: the header as a list of short keys with
// room for the ACL fields (client/producer's Producer.request).
func sendList(body []byte) *remoting.Command {
	h := protocol.SendMessageRequestHeader{ProducerGroup: "bench", Topic: "Bench", DefaultTopic: "TBW102",
		DefaultTopicQueueNums: 8, QueueID: 3, BornTimestamp: 1700000000000, Properties: "TAGS\x01T\x02"}
	return remoting.NewRequestList(remoting.SendMessageV2, body).SetRawExt(h.AppendShort(make([]protocol.ExtField, 0, 17)))
}

// BenchmarkSignerSignSendV2 is BenchmarkSignerSignSend for the request the SDK sends by default
// (SEND_MESSAGE_V2, list header).
func BenchmarkSignerSignSendV2(b *testing.B) {
	s := &Signer{AccessKey: "benchKey", SecretKey: "benchSecret"}
	body := make([]byte, 1024)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		s.Sign(sendList(body))
	}
}

// BenchmarkGuardAuthorizeSendV2 is BenchmarkGuardAuthorizeSend for the request the SDK sends by
// default (SEND_MESSAGE_V2, list header, RocketMQ's binary header).
func BenchmarkGuardAuthorizeSendV2(b *testing.B) {
	tab, err := acl.Parse([]byte("accounts:\n  - {accessKey: benchKey, secretKey: benchSecret, defaultTopicPerm: DENY, topicPerms: [Bench=PUB]}\n"))
	if err != nil {
		b.Fatal(err)
	}
	g := NewGuard(GuardConfig{ACL: acl.NewAuthorizer(tab)})
	req := sendList(make([]byte, 1024))
	req.SerializeType = remoting.SerializeRocketMQ
	(&Signer{AccessKey: "benchKey", SecretKey: "benchSecret"}).Sign(req)
	frame, err := req.Encode()
	if err != nil {
		b.Fatal(err)
	}
	in, err := remoting.DecodeFrameRaw(frame[4:])
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(req.Body)))
	b.ReportAllocs()
	for b.Loop() {
		if code, remark, ok := g.Authorize("127.0.0.1:50000", in); !ok {
			b.Fatal(code, remark)
		}
	}
}

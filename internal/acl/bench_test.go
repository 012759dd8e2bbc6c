package acl

import (
	"strconv"
	"testing"

	"github.com/skiffmq/skiff/internal/remoting"
)

// BenchmarkACLCheckSend is the broker's cost per signed send: signature over a SEND_MESSAGE's
// ten header fields and a 1 KiB body, plus the PUB check.
//
//	go test -run '^$' -bench ACLCheckSend -benchmem ./internal/acl/
func BenchmarkACLCheckSend(b *testing.B) {
	tab, err := Parse([]byte("accounts:\n  - {accessKey: benchKey, secretKey: benchSecret, topicPerms: [Bench=PUB]}\n"))
	if err != nil {
		b.Fatal(err)
	}
	body := make([]byte, 1024)
	ext := map[string]string{"producerGroup": "bench", "topic": "Bench", "defaultTopic": "TBW102",
		"defaultTopicQueueNums": "8", "queueId": "3", "sysFlag": "0", "bornTimestamp": strconv.Itoa(1700000000000),
		"flag": "0", "properties": "TAGS\x01T\x02", "reconsumeTimes": "0"}
	ext = signed("benchKey", "benchSecret", ext, body)
	req := request(remoting.SendMessage, "10.0.0.1:5000", ext, body)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if d := tab.Check(req); d != nil {
			b.Fatal(d)
		}
	}
}

package consumer

import (
	"strings"
	"testing"

	"github.com/skiffmq/skiff/client"
)

// FuzzParseMQKey: parseMQKey never panics; a key it accepts parses to the same queue when
// written back; and any queue whose broker name has no '@' survives mqKey then parseMQKey.
func FuzzParseMQKey(f *testing.F) {
	for _, s := range []string{"T@b1@0", "%RETRY%g@broker-a@15", "a@b@c@-1", "", "@@", "T@b@+3", "T@b@2147483648"} {
		f.Add(s, "b", int32(0))
	}
	f.Add("Topic", "broker", int32(-7))
	f.Add("T@x", "", int32(2147483647))
	f.Fuzz(func(t *testing.T, key, broker string, qid int32) {
		if mq, ok := parseMQKey(key); ok {
			if strings.Contains(mq.BrokerName, "@") {
				t.Fatalf("parseMQKey(%q) = %+v: broker name with '@'", key, mq)
			}
			again, ok2 := parseMQKey(mqKey(mq))
			if !ok2 || again != mq {
				t.Fatalf("parseMQKey(%q) = %+v, but its key %q parses to %+v, %v", key, mq, mqKey(mq), again, ok2)
			}
		}
		if strings.Contains(broker, "@") {
			return
		}
		mq := client.MessageQueue{Topic: key, BrokerName: broker, QueueID: qid}
		got, ok := parseMQKey(mqKey(mq))
		if !ok || got != mq {
			t.Fatalf("round trip of %+v gave %+v, %v", mq, got, ok)
		}
	})
}

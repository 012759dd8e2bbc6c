package processor

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// FuzzProcessorHeartbeatBody decodes arbitrary HEART_BEAT bodies: no panic, and an accepted body
// re-encodes to one that decodes to the same value.
func FuzzProcessorHeartbeatBody(f *testing.F) {
	f.Add([]byte(`{"clientID":"192.0.2.2@10318","producerDataSet":[{"groupName":"pg1"}],"consumerDataSet":[]}`))
	f.Add([]byte(`{"clientID":"c","producerDataSet":[],"consumerDataSet":[{"groupName":"cg1","consumeType":"CONSUME_PASSIVELY","messageModel":"CLUSTERING","consumeFromWhere":"CONSUME_FROM_LAST_OFFSET","subscriptionDataSet":[{"classFilterMode":false,"topic":"TopicTest","subString":"TagA || TagB","tagsSet":["TagA","TagB"],"codeSet":["2598919","2598920"],"subVersion":1795383918029927958,"expressionType":"TAG"}],"unitMode":false}]}`))
	f.Add([]byte(`{"consumerDataSet":[{"subscriptionDataSet":[{"codeSet":[1,2]}]}]}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, body []byte) {
		hb, err := decodeHeartbeat(body)
		if err != nil {
			return
		}
		again, err := json.Marshal(hb)
		if err != nil {
			t.Fatalf("marshal %+v: %v", hb, err)
		}
		hb2, err := decodeHeartbeat(again)
		if err != nil || !reflect.DeepEqual(hb, hb2) {
			t.Fatalf("round trip of %q: %+v %v, want %+v", again, hb2, err, hb)
		}
	})
}

// FuzzProcessorLockBatchBody decodes arbitrary LOCK_BATCH_MQ / UNLOCK_BATCH_MQ bodies.
func FuzzProcessorLockBatchBody(f *testing.F) {
	f.Add([]byte(`{"consumerGroup":"g","clientId":"c","onlyThisBroker":false,"mqSet":[{"topic":"T","brokerName":"b","queueId":0}]}`))
	f.Add([]byte(`{"mqSet":null}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		b, err := decodeLockBatch(body)
		if err != nil {
			return
		}
		again, _ := json.Marshal(b)
		b2, err := decodeLockBatch(again)
		if err != nil || !reflect.DeepEqual(b, b2) {
			t.Fatalf("round trip of %q: %+v %v, want %+v", again, b2, err, b)
		}
		// The lock table takes any decoded body without panicking.
		l := NewQueueLockTable()
		l.TryLock(b.ConsumerGroup, b.ClientID, b.MqSet, time.Unix(1700000000, 0))
		l.Unlock(b.ConsumerGroup, b.ClientID, b.MqSet)
	})
}

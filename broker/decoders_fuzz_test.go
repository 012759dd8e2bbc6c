package broker

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/skiffmq/skiff/internal/remoting"
)

// FuzzBrokerHeartbeatBody decodes arbitrary HEART_BEAT bodies: no panic, and an accepted body
// re-encodes to one that decodes to the same value.
func FuzzBrokerHeartbeatBody(f *testing.F) {
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

// FuzzBrokerLockBatchBody decodes arbitrary LOCK_BATCH_MQ / UNLOCK_BATCH_MQ bodies.
func FuzzBrokerLockBatchBody(f *testing.F) {
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
		l := newQueueLocks()
		l.tryLock(b.ConsumerGroup, b.ClientID, b.MqSet, time.Unix(1700000000, 0))
		l.unlock(b.ConsumerGroup, b.ClientID, b.MqSet)
	})
}

// FuzzBrokerConfigBody applies arbitrary UPDATE_BROKER_CONFIG bodies to the default
// configuration: no panic; an accepted body yields a configuration that validates, and a refused
// one says why with a code.
func FuzzBrokerConfigBody(f *testing.F) {
	f.Add([]byte("brokerPermission=4\n"))
	f.Add([]byte("# comment\nslaveReadEnable = true\nmaxMessageSize=1024\n"))
	f.Add([]byte("listenPort=1\n"))
	f.Add([]byte("nokey\n"))
	f.Add([]byte("brokerPermission=99999999999999999999\n"))
	base := DefaultConfig()
	base.BrokerName, base.NamesrvAddr, base.StorePathRootDir = "b", "127.0.0.1:9876", "/tmp/x"
	f.Fuzz(func(t *testing.T, body []byte) {
		next, changed, code, err := applyConfigBody(base, body)
		if err != nil {
			if code == remoting.Success || err.Error() == "" {
				t.Fatalf("refusal with code %d and error %q", code, err)
			}
			return
		}
		if verr := next.Validate(); verr != nil {
			t.Fatalf("accepted %q gives an invalid configuration: %v", body, verr)
		}
		_ = changed
	})
}

// FuzzBrokerRequestHeader reads arbitrary extFields with every typed reader of the broker's
// request header helper: no panic, and the first problem names a field.
func FuzzBrokerRequestHeader(f *testing.F) {
	f.Add("topic", "T", "queueId", "7", "offset", "-1")
	f.Add("queueId", "", "offset", "99999999999999999999", "x", "true")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2, k3, v3 string) {
		req := remoting.NewRequest(remoting.QueryConsumerOffset, map[string]string{k1: v1, k2: v2, k3: v3}, nil)
		h := newHeader(req)
		for _, k := range []string{k1, k2, k3, "missing"} {
			_ = h.str(k, true)
			_ = h.i32(k, true)
			_ = h.i64(k, false)
			_ = h.boolean(k)
			_ = h.has(k)
		}
		if _, ok := req.ExtFields["missing"]; !ok && h.err == nil {
			t.Fatal("a missing required field gave no error")
		}
	})
}

func TestBrokerConfigBodyApplies(t *testing.T) {
	base := DefaultConfig()
	base.BrokerName, base.NamesrvAddr, base.StorePathRootDir = "b", "127.0.0.1:9876", "/tmp/x"
	next, changed, code, err := applyConfigBody(base, []byte("# c\nbrokerPermission = 4\n\nslaveReadEnable=true\n"))
	if err != nil || code != remoting.Success || next.BrokerPermission != 4 || !next.SlaveReadEnable || len(changed) != 2 {
		t.Fatalf("apply: %+v %v %d %v", changed, err, code, next.BrokerPermission)
	}
	if _, _, code, err := applyConfigBody(base, []byte("listenPort=1")); code != remoting.NoPermission || err == nil {
		t.Fatalf("listenPort at runtime: code %d err %v", code, err)
	}
}

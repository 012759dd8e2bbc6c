package admin

import "testing"

// FuzzAdminStatsBodies decodes arbitrary GET_TOPIC_STATS_INFO and GET_CONSUME_STATS bodies: no
// panic; a result has one entry per offsetTable pair.
func FuzzAdminStatsBodies(f *testing.F) {
	f.Add([]byte(`{"offsetTable":{{"brokerName":"b","queueId":0,"topic":"T"}:{"lastUpdateTimestamp":1,"maxOffset":9,"minOffset":0}}}`))
	f.Add([]byte(`{"consumeTps":0.0,"offsetTable":{{"brokerName":"b","queueId":0,"topic":"T"}:{"brokerOffset":9,"consumerOffset":4,"lastTimestamp":1}}}`))
	f.Add([]byte(`{"offsetTable":{}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		_, _ = decodeTopicStats(body)
		_, _ = decodeConsumeStats(body)
	})
}

func TestAdminStatsBodiesDecode(t *testing.T) {
	ts, err := decodeTopicStats([]byte(`{"offsetTable":{{"brokerName":"b","queueId":3,"topic":"T"}:{"lastUpdateTimestamp":1,"maxOffset":9,"minOffset":2}}}`))
	if err != nil || len(ts) != 1 || ts[0].QueueID != 3 || ts[0].MaxOffset != 9 || ts[0].MinOffset != 2 {
		t.Fatalf("topic stats %+v %v", ts, err)
	}
	cs, err := decodeConsumeStats([]byte(`{"offsetTable":{{"brokerName":"b","queueId":1,"topic":"T"}:{"brokerOffset":9,"consumerOffset":4,"lastTimestamp":1}}}`))
	if err != nil || len(cs) != 1 || cs[0].BrokerOffset != 9 || cs[0].ConsumerOffset != 4 {
		t.Fatalf("consume stats %+v %v", cs, err)
	}
}

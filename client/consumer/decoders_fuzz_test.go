package consumer

import (
	"slices"
	"sort"
	"testing"
)

// FuzzConsumerIDList decodes arbitrary GET_CONSUMER_LIST_BY_GROUP bodies: no panic, and the ids
// come back sorted and distinct.
func FuzzConsumerIDList(f *testing.F) {
	f.Add([]byte(`{"consumerIdList":["b@2","a@1","b@2"]}`))
	f.Add([]byte(`{"consumerIdList":null}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		ids, err := decodeConsumerIDList(body)
		if err != nil {
			return
		}
		if !sort.StringsAreSorted(ids) || len(slices.Compact(slices.Clone(ids))) != len(ids) {
			t.Fatalf("ids %q are not sorted and distinct", ids)
		}
	})
}

// FuzzResetOffsets decodes arbitrary RESET_CONSUMER_CLIENT_OFFSET bodies (offsetTable keyed by
// message-queue objects): no panic.
func FuzzResetOffsets(f *testing.F) {
	f.Add([]byte(`{"offsetTable":{{"brokerName":"b","queueId":0,"topic":"T"}:5,{"brokerName":"b","queueId":1,"topic":"T"}:7}}`))
	f.Add([]byte(`{"offsetTable":[[{"topic":"T","brokerName":"b","queueId":2},9]]}`))
	f.Add([]byte(`{"offsetTable":{}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		resets, err := decodeResetOffsets(body)
		if err != nil {
			return
		}
		for _, r := range resets {
			_ = r.mq.String()
		}
	})
}

func TestConsumerResetOffsetsDecode(t *testing.T) {
	for _, body := range []string{
		`{"offsetTable":{{"brokerName":"b","queueId":1,"topic":"T"}:7}}`,
	} {
		r, err := decodeResetOffsets([]byte(body))
		if err != nil || len(r) != 1 || r[0].mq.Topic != "T" || r[0].mq.QueueID != 1 || r[0].offset != 7 {
			t.Errorf("%s: %+v %v", body, r, err)
		}
	}
}

package protocol

import "testing"

func TestProtocolObjectKeyMap(t *testing.T) {
	body := []byte(`{"consumeTps":0,"offsetTable":{{"brokerName":"b","queueId":0,"topic":"T{x}"}:{"brokerOffset":5,"consumerOffset":2,"lastTimestamp":0},{"brokerName":"b","queueId":1,"topic":"T"}:7}}`)
	pairs, err := ObjectKeyMap(body, "offsetTable")
	if err != nil || len(pairs) != 2 {
		t.Fatalf("pairs %d err %v", len(pairs), err)
	}
	if string(pairs[0][0]) != `{"brokerName":"b","queueId":0,"topic":"T{x}"}` || string(pairs[1][1]) != "7" {
		t.Fatalf("pairs = %q", pairs)
	}
	for _, bad := range []string{`{"offsetTable":{{"a":1}`, `{"offsetTable":[1]}`, `{"offsetTable":{{"a":1} 5}}`} {
		if _, err := ObjectKeyMap([]byte(bad), "offsetTable"); err == nil {
			t.Errorf("ObjectKeyMap(%s) accepted bad input", bad)
		}
	}
}

func FuzzProtocolObjectKeyMap(f *testing.F) {
	f.Add([]byte(`{"offsetTable":{{"brokerName":"b","queueId":0,"topic":"T"}:{"maxOffset":1}}}`))
	f.Add([]byte(`{"offsetTable":{{"a":"\"}"}:3,{"b":1}:{}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = ObjectKeyMap(b, "offsetTable")
	})
}

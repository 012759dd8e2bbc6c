package core

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestNormalizeJSON(t *testing.T) {
	cases := []struct{ in, want string }{
		{`{0:"a",1:"b"}`, `{"0":"a","1":"b"}`},
		{`{"brokerAddrs":{0:"127.0.0.1:10911"},"x":[1,2,{-3:4}]}`, `{"brokerAddrs":{"0":"127.0.0.1:10911"},"x":[1,2,{"-3":4}]}`},
		{`{ 0 : 1 , 12 :2}`, `{ "0" : 1 , "12" :2}`},
		{`{"s":"{0:\"x\",1:2}"}`, `{"s":"{0:\"x\",1:2}"}`}, // string contents untouched
		{`{"a\\":{5:1}}`, `{"a\\":{"5":1}}`},               // escaped backslash before the quote
		{`[0,1,{2:[3,4]}]`, `[0,1,{"2":[3,4]}]`},
		{`{"0":"a"}`, `{"0":"a"}`},
		{``, ``},
		{`"unterminated`, `"unterminated`},
	}
	for _, c := range cases {
		if got := string(NormalizeJSON([]byte(c.in))); got != c.want {
			t.Errorf("NormalizeJSON(%s) = %s, want %s", c.in, got, c.want)
		}
	}
}

func TestUnmarshalFastjsonRoute(t *testing.T) {
	body := `{"brokerDatas":[{"brokerAddrs":{0:"127.0.0.1:10911",1:"127.0.0.1:10921"},"brokerName":"broker-a","cluster":"C"}],` +
		`"filterServerTable":{},"queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":2}]}`
	var r TopicRoute
	if err := Unmarshal([]byte(body), &r); err != nil {
		t.Fatal(err)
	}
	if len(r.BrokerDatas) != 1 || r.BrokerDatas[0].MasterAddr() != "127.0.0.1:10911" || r.BrokerDatas[0].BrokerAddrs[1] != "127.0.0.1:10921" {
		t.Fatalf("broker datas %+v", r.BrokerDatas)
	}
	if len(r.QueueDatas) != 1 || r.QueueDatas[0].ReadQueueNums != 4 || r.QueueDatas[0].WriteQueueNums != 2 || r.QueueDatas[0].Perm != 6 {
		t.Fatalf("queue datas %+v", r.QueueDatas)
	}
}

func FuzzNormalizeJSON(f *testing.F) {
	for _, s := range []string{
		`{0:"a",1:"b"}`, `{"brokerAddrs":{0:"x"}}`, `{"s":"{0:1}"}`, `[1,{2:3}]`, `{"a\\":{5:1}}`,
		`{"offsetTable":{{"brokerName":"b","queueId":0,"topic":"T"}:{"maxOffset":9}}}`, `"\`, `{-`, `{1e5:2}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out := NormalizeJSON(in)
		if json.Valid(in) && !bytes.Equal(out, in) {
			t.Fatalf("standard JSON changed: %q -> %q", in, out)
		}
		if again := NormalizeJSON(out); !bytes.Equal(again, out) {
			t.Fatalf("not idempotent: %q -> %q -> %q", in, out, again)
		}
		// Bytes are only ever added (quotes), never dropped or reordered.
		if len(out) < len(in) {
			t.Fatalf("output shorter than input: %q -> %q", in, out)
		}
		var v any
		_ = Unmarshal(in, &v)
	})
}

package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func sampleRoute() TopicRouteData {
	return TopicRouteData{
		QueueDatas: []QueueData{{BrokerName: "broker-a", ReadQueueNums: 4, WriteQueueNums: 4, Perm: 6}},
		BrokerDatas: []BrokerData{{Cluster: "DefaultCluster", BrokerName: "broker-a",
			BrokerAddrs: map[int64]string{1: "10.0.0.2:10911", 0: "10.0.0.1:10911"}}},
	}
}

// brokerAddrsText mimics the official Go client: the raw text of each brokerAddrs value.
func brokerAddrsText(t *testing.T, body []byte) []string {
	t.Helper()
	var out []string
	rest := string(body)
	for {
		i := strings.Index(rest, `"brokerAddrs":`)
		if i < 0 {
			return out
		}
		rest = rest[i+len(`"brokerAddrs":`):]
		j := strings.IndexByte(rest, '}')
		out = append(out, rest[:j+1])
		rest = rest[j+1:]
	}
}

// goClientParse reproduces the Go client's textual parse of brokerAddrs.
func goClientParse(raw string) map[string]string {
	m := map[string]string{}
	inner := raw[1 : len(raw)-1]
	if inner == "" {
		return m
	}
	for _, p := range strings.Split(inner, ",") {
		kv := strings.SplitN(p, ":", 2)
		m[strings.ReplaceAll(kv[0], `"`, "")] = strings.ReplaceAll(kv[1], `"`, "")
	}
	return m
}

func TestProtocolRouteBodiesRouteFastjsonForm(t *testing.T) {
	got := string(EncodeTopicRoute(sampleRoute(), false))
	want := `{"brokerDatas":[{"brokerAddrs":{0:"10.0.0.1:10911",1:"10.0.0.2:10911"},"brokerName":"broker-a","cluster":"DefaultCluster"}],` +
		`"filterServerTable":{},"queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4}]}`
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	if json.Valid([]byte(got)) {
		t.Fatal("fastjson form unexpectedly valid standard JSON (keys should be unquoted)")
	}
	addrs := brokerAddrsText(t, []byte(got))
	if len(addrs) != 1 || strings.ContainsAny(addrs[0], " \t\n") {
		t.Fatalf("brokerAddrs %q", addrs)
	}
	if m := goClientParse(addrs[0]); m["0"] != "10.0.0.1:10911" || m["1"] != "10.0.0.2:10911" {
		t.Fatalf("go client parse %v", m)
	}
}

func TestProtocolRouteBodiesRouteStandardForm(t *testing.T) {
	r := sampleRoute()
	r.OrderTopicConf = "broker-a:4"
	got := EncodeTopicRoute(r, true)
	if !json.Valid(got) {
		t.Fatalf("standard form not valid JSON: %s", got)
	}
	if !bytes.Contains(got, []byte(`"brokerAddrs":{"0":"10.0.0.1:10911","1":"10.0.0.2:10911"}`)) {
		t.Fatalf("quoted keys missing: %s", got)
	}
	if !bytes.Contains(got, []byte(`"filterServerTable":{},"orderTopicConf":"broker-a:4","queueDatas"`)) {
		t.Fatalf("orderTopicConf missing or out of order: %s", got)
	}
	if bytes.ContainsAny(got, " \n\t") {
		t.Fatalf("not compact: %s", got)
	}
	back, err := DecodeTopicRoute(got)
	if err != nil || !reflect.DeepEqual(back, r) {
		t.Fatalf("round trip %v\n got %+v\nwant %+v", err, back, r)
	}
}

func TestProtocolRouteBodiesEmptyBrokerAddrsPresent(t *testing.T) {
	r := TopicRouteData{BrokerDatas: []BrokerData{{BrokerName: "b", Cluster: "c"}}}
	for _, std := range []bool{false, true} {
		got := EncodeTopicRoute(r, std)
		if !bytes.Contains(got, []byte(`"brokerAddrs":{}`)) {
			t.Fatalf("std=%v: %s", std, got)
		}
	}
}

func TestProtocolRouteBodiesRouteRoundTripFastjson(t *testing.T) {
	r := sampleRoute()
	back, err := DecodeTopicRoute(EncodeTopicRoute(r, false))
	if err != nil || !reflect.DeepEqual(back, r) {
		t.Fatalf("%v\n got %+v\nwant %+v", err, back, r)
	}
}

func TestProtocolRouteBodiesStringEscapes(t *testing.T) {
	s := "a\"b\\c\n\x01é😀"
	std := appendString(nil, s, true)
	if want := `"a\"b\\c\n\u0001\u00e9\ud83d\ude00"`; string(std) != want {
		t.Fatalf("ascii form %s want %s", std, want)
	}
	var back string
	if err := json.Unmarshal(std, &back); err != nil || back != s {
		t.Fatalf("ascii form does not decode: %v %q", err, back)
	}
	raw := appendString(nil, s, false)
	if err := json.Unmarshal(raw, &back); err != nil || back != s {
		t.Fatalf("utf-8 form does not decode: %v %q", err, back)
	}
}

func TestProtocolRouteBodiesClusterInfo(t *testing.T) {
	ci := ClusterInfo{
		BrokerAddrTable: map[string]BrokerData{
			"broker-b": {Cluster: "DefaultCluster", BrokerName: "broker-b", BrokerAddrs: map[int64]string{0: "b:1"}},
			"broker-a": {Cluster: "DefaultCluster", BrokerName: "broker-a", BrokerAddrs: map[int64]string{0: "a:1", 1: "a:2"}},
		},
		ClusterAddrTable: map[string][]string{"DefaultCluster": {"broker-b", "broker-a"}},
	}
	got := string(EncodeClusterInfo(ci, false))
	want := `{"brokerAddrTable":{"broker-a":{"brokerAddrs":{0:"a:1",1:"a:2"},"brokerName":"broker-a","cluster":"DefaultCluster"},` +
		`"broker-b":{"brokerAddrs":{0:"b:1"},"brokerName":"broker-b","cluster":"DefaultCluster"}},` +
		`"clusterAddrTable":{"DefaultCluster":["broker-a","broker-b"]}}`
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	back, err := DecodeClusterInfo([]byte(got))
	if err != nil {
		t.Fatal(err)
	}
	ci.ClusterAddrTable["DefaultCluster"] = []string{"broker-a", "broker-b"}
	if !reflect.DeepEqual(back, ci) {
		t.Fatalf("round trip\n got %+v\nwant %+v", back, ci)
	}
	if std := EncodeClusterInfo(ci, true); !json.Valid(std) {
		t.Fatalf("standard form invalid: %s", std)
	}
}

const standardRegisterBody = `{"topicConfigSerializeWrapper":{"dataVersion":{"counter":3,"timestamp":1700000000000},` +
	`"topicConfigTable":{"T":{"topicName":"T","readQueueNums":4,"writeQueueNums":4,"perm":6,"topicFilterType":"SINGLE_TAG","topicSysFlag":0,"order":false}}},"filterServerList":[]}`

// A Java broker's body: fastjson, alphabetical, extra fields, non-string keys unquoted.
const fastjsonRegisterBody = `{"filterServerList":[],"topicConfigSerializeWrapper":{"dataVersion":{"counter":3,"stateVersion":0,"timestamp":1700000000000},` +
	`"topicConfigTable":{"T":{"attributes":{},"order":false,"perm":6,"readQueueNums":4,"topicFilterType":"SINGLE_TAG","topicName":"T","topicSysFlag":0,"writeQueueNums":4},` +
	`"TBW102":{"order":false,"perm":7,"readQueueNums":8,"topicFilterType":"SINGLE_TAG","topicName":"TBW102","topicSysFlag":0,"writeQueueNums":8}},` +
	`"topicQueueMappingInfoMap":{}},"extra":{0:1,1:{2:"x"}}}`

func TestProtocolRouteBodiesDecodeRegisterBodyForms(t *testing.T) {
	b, err := DecodeRegisterBody([]byte(standardRegisterBody), false)
	if err != nil {
		t.Fatal(err)
	}
	w := b.TopicConfigSerializeWrapper
	if w.DataVersion != (DataVersion{3, 1700000000000}) || len(w.TopicConfigTable) != 1 ||
		w.TopicConfigTable["T"] != (TopicConfig{TopicName: "T", ReadQueueNums: 4, WriteQueueNums: 4, Perm: 6, TopicFilterType: "SINGLE_TAG"}) {
		t.Fatalf("standard: %+v", b)
	}
	b, err = DecodeRegisterBody([]byte(fastjsonRegisterBody), false)
	if err != nil {
		t.Fatal(err)
	}
	w = b.TopicConfigSerializeWrapper
	if w.DataVersion.Counter != 3 || len(w.TopicConfigTable) != 2 || w.TopicConfigTable["TBW102"].Perm != 7 {
		t.Fatalf("fastjson: %+v", b)
	}
	for _, bad := range []string{"", "{", `{"topicConfigSerializeWrapper":[]}`, `{"a":"b`, `{{"a":1}:2}`} {
		if _, err := DecodeRegisterBody([]byte(bad), false); !errors.Is(err, ErrBadBody) {
			t.Errorf("%q: want ErrBadBody, got %v", bad, err)
		}
	}
}

func TestProtocolRouteBodiesRegisterBodyRoundTrip(t *testing.T) {
	body := RegisterBrokerBody{TopicConfigSerializeWrapper: TopicConfigSerializeWrapper{
		DataVersion:      DataVersion{9, 123},
		TopicConfigTable: map[string]TopicConfig{"A": {TopicName: "A", ReadQueueNums: 2, WriteQueueNums: 3, Perm: 6, TopicFilterType: "SINGLE_TAG", TopicSysFlag: 1, Order: true}},
	}, FilterServerList: []string{}}
	enc := EncodeRegisterBody(body)
	if !strings.HasPrefix(string(enc), `{"filterServerList":[],"topicConfigSerializeWrapper":{"dataVersion":{"counter":9,"timestamp":123}`) {
		t.Fatalf("encoding %s", enc)
	}
	back, err := DecodeRegisterBody(enc, false)
	if err != nil || !reflect.DeepEqual(back, body) {
		t.Fatalf("%v\n got %+v\nwant %+v", err, back, body)
	}
}

func TestProtocolRouteBodiesCompressedRegisterBody(t *testing.T) {
	body := RegisterBrokerBody{TopicConfigSerializeWrapper: TopicConfigSerializeWrapper{
		DataVersion: DataVersion{4, 5},
		TopicConfigTable: map[string]TopicConfig{
			"A": {TopicName: "A", ReadQueueNums: 2, WriteQueueNums: 3, Perm: 6, TopicFilterType: "SINGLE_TAG"},
			"B": {TopicName: "B", ReadQueueNums: 8, WriteQueueNums: 8, Perm: 7, TopicFilterType: "MULTI_TAG"},
		},
	}, FilterServerList: []string{}}
	back, err := DecodeRegisterBody(EncodeCompressedRegisterBody(body), true)
	if err != nil || !reflect.DeepEqual(back, body) {
		t.Fatalf("%v\n got %+v\nwant %+v", err, back, body)
	}
	if _, err := DecodeRegisterBody([]byte("not zlib"), true); !errors.Is(err, ErrBadBody) {
		t.Fatalf("garbage: %v", err)
	}
}

func TestProtocolRouteBodiesStandardize(t *testing.T) {
	cases := map[string]string{
		`{0:"a",1:"b"}`:                      `{"0":"a","1":"b"}`,
		`{ -1 : 2 , x_y:{3:[{4:5}]} }`:       `{ "-1" : 2 , "x_y":{"3":[{"4":5}]} }`,
		`{"k":"{0:1}"}`:                      `{"k":"{0:1}"}`,
		`[1,{2:"x\"}"},3]`:                   `[1,{"2":"x\"}"},3]`,
		`{"a":[0,1],"b":{}}`:                 `{"a":[0,1],"b":{}}`,
		`"plain"`:                            `"plain"`,
		`{"offsetTable":{10:12,11:7},"x":1}`: `{"offsetTable":{"10":12,"11":7},"x":1}`,
		`{"brokerAddrs":{0:"127.0.0.1:10911"},"x":[1,2,{-3:4}]}`: `{"brokerAddrs":{"0":"127.0.0.1:10911"},"x":[1,2,{"-3":4}]}`,
		`{"a\\":{5:1}}`: `{"a\\":{"5":1}}`, // an escaped backslash before the closing quote
		``:              ``,
	}
	for in, want := range cases {
		got, err := StandardizeJSON([]byte(in))
		if err != nil || string(got) != want {
			t.Errorf("%s: got %s, %v; want %s", in, got, err, want)
		}
	}
	for _, bad := range []string{`{`, `{"a":1]`, `}`, `{"a`, `{{"a":1}:2}`, `{:1}`} {
		if _, err := StandardizeJSON([]byte(bad)); err == nil {
			t.Errorf("%s: want error", bad)
		}
	}
}

func FuzzProtocolStandardizeJSON(f *testing.F) {
	for _, s := range []string{`{0:"a"}`, standardRegisterBody, fastjsonRegisterBody, `[{"a":{1:2}}]`, `{"a":"\\"}`, `{`, `"`,
		`{"offsetTable":{{"brokerName":"b","queueId":0,"topic":"T"}:{"maxOffset":9}}}`, `{-`, `{1e5:2}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := StandardizeJSON(in)
		if err != nil {
			return
		}
		if json.Valid(in) && !bytes.Equal(in, out) {
			t.Fatalf("valid JSON changed: %q -> %q", in, out)
		}
		// Bytes are only ever added (quotes around bare keys), never dropped.
		if len(out) < len(in) {
			t.Fatalf("output shorter than input: %q -> %q", in, out)
		}
		var v any
		_ = UnmarshalFastJSON(in, &v)
		again, err := StandardizeJSON(out)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("not idempotent: %q -> %q -> %q (%v)", in, out, again, err)
		}
	})
}

func FuzzProtocolDecodeRegisterBody(f *testing.F) {
	f.Add([]byte(standardRegisterBody), false)
	f.Add([]byte(fastjsonRegisterBody), false)
	f.Add(EncodeCompressedRegisterBody(RegisterBrokerBody{TopicConfigSerializeWrapper: TopicConfigSerializeWrapper{
		TopicConfigTable: map[string]TopicConfig{"A": {TopicName: "A", ReadQueueNums: 1, WriteQueueNums: 1, Perm: 6, TopicFilterType: "SINGLE_TAG"}}}}), true)
	f.Add([]byte{0x78, 0x9c, 0, 0}, true)
	f.Fuzz(func(t *testing.T, in []byte, compressed bool) {
		body, err := DecodeRegisterBody(in, compressed)
		if err != nil {
			return
		}
		// Whatever decodes re-encodes and decodes to the same topics.
		back, err := DecodeRegisterBody(EncodeRegisterBody(body), false)
		if err != nil {
			t.Fatalf("re-encode failed: %v", err)
		}
		if len(back.TopicConfigSerializeWrapper.TopicConfigTable) != len(body.TopicConfigSerializeWrapper.TopicConfigTable) {
			t.Fatalf("topic count changed")
		}
	})
}

func FuzzProtocolDecodeTopicRoute(f *testing.F) {
	f.Add(EncodeTopicRoute(sampleRoute(), false))
	f.Add(EncodeTopicRoute(sampleRoute(), true))
	f.Add([]byte(`{"brokerDatas":[{"brokerAddrs":{x:"a"}}]}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		r, err := DecodeTopicRoute(in)
		if err != nil {
			return
		}
		for _, std := range []bool{false, true} {
			back, err := DecodeTopicRoute(EncodeTopicRoute(r, std))
			if err != nil {
				t.Fatalf("std=%v: re-decode: %v", std, err)
			}
			if len(back.BrokerDatas) != len(r.BrokerDatas) || len(back.QueueDatas) != len(r.QueueDatas) {
				t.Fatalf("std=%v: shape changed", std)
			}
		}
	})
}

func TestProtocolRouteBodiesFilterServerTableRoundTrip(t *testing.T) {
	r := sampleRoute()
	r.FilterServerTable = map[string][]string{"10.0.0.1:10911": {"10.0.0.9:2000", "10.0.0.8:2000"}}
	for _, std := range []bool{false, true} {
		back, err := DecodeTopicRoute(EncodeTopicRoute(r, std))
		if err != nil || !reflect.DeepEqual(back, r) {
			t.Fatalf("standard=%v: %v\n got %+v\nwant %+v", std, err, back, r)
		}
	}
}

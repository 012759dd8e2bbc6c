package protocol

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"strconv"
	"testing"
)

// refHeader is the decoding shape the remoting package used with encoding/json before this
// package's scanner; the fuzz test holds the scanner to it.
type refHeader struct {
	Code      int32                      `json:"code"`
	Language  json.RawMessage            `json:"language"`
	Version   int32                      `json:"version"`
	Opaque    int32                      `json:"opaque"`
	Flag      int32                      `json:"flag"`
	Remark    *string                    `json:"remark"`
	ExtFields map[string]json.RawMessage `json:"extFields"`
}

type refResult struct {
	code, version, opaque, flag int32
	language, remark            string
	ext                         map[string]string
}

// refDecode is the encoding/json reference: same rules as DecodeJSONHeader's doc comment.
func refDecode(b []byte) (refResult, error) {
	var r refResult
	trimmed := bytes.TrimLeft(b, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return r, fmt.Errorf("not an object")
	}
	var h refHeader
	if err := json.Unmarshal(b, &h); err != nil {
		return r, err
	}
	r = refResult{code: h.Code, version: h.Version, opaque: h.Opaque, flag: h.Flag, ext: map[string]string{}}
	if h.Remark != nil {
		r.remark = *h.Remark
	}
	if len(h.Language) > 0 && string(h.Language) != "null" {
		if h.Language[0] == '"' {
			if err := json.Unmarshal(h.Language, &r.language); err != nil {
				return r, err
			}
		} else {
			n, err := strconv.ParseInt(string(h.Language), 10, 32)
			if err != nil {
				return r, err
			}
			r.language = LanguageName(int(n))
		}
	}
	for k, raw := range h.ExtFields {
		switch {
		case len(raw) == 0 || string(raw) == "null":
		case raw[0] == '"':
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return r, err
			}
			r.ext[k] = s
		case raw[0] == '{' || raw[0] == '[':
			return r, fmt.Errorf("ext value %q is not a string", k)
		default:
			r.ext[k] = string(raw)
		}
	}
	return r, nil
}

func decodeOurs(b []byte) (refResult, error) {
	buf := append([]byte(nil), b...) // decoded in place
	var h Header
	if err := DecodeJSONHeader(buf, &h); err != nil {
		return refResult{}, err
	}
	r := refResult{code: h.Code, version: h.Version, opaque: h.Opaque, flag: h.Flag, language: h.Language, remark: h.Remark, ext: map[string]string{}}
	for _, f := range h.Ext {
		if _, dup := r.ext[f.Key]; dup {
			return r, fmt.Errorf("key %q listed twice", f.Key)
		}
		r.ext[f.Key] = f.Value
	}
	return r, nil
}

func sameResult(a, b refResult) bool {
	return a.code == b.code && a.version == b.version && a.opaque == b.opaque && a.flag == b.flag &&
		a.language == b.language && a.remark == b.remark && maps.Equal(a.ext, b.ext)
}

var jsonHeaderSeeds = []string{
	`{"code":105,"language":"GO","version":317,"opaque":1,"flag":0,"remark":"","extFields":{"topic":"TopicTest"}}`,
	`{"code":10,"language":"GO","version":317,"opaque":2,"flag":0,"remark":"","extFields":{"reconsumeTimes":"0","unitMode":"false","topic":"TopicTest","sysFlag":"0","flag":"0","maxReconsumeTimes":"0","defaultTopic":"TBW102","defaultTopicQueueNums":"4","batch":"false","properties":"TAGS\u0001TagA\u0002KEYS\u0001k1 k2\u0002UNIQ_KEY\u0001C0000202284E0000000070d08de00001\u0002","producerGroup":"pg1","queueId":"1","bornTimestamp":"1795383916027"}}`,
	`{"code":0,"extFields":{"offset":"0","n":5},"flag":1,"language":"JAVA","opaque":11,"serializeTypeCurrentRPC":"JSON","version":409}`,
	`{"remark":null,"extFields":null,"language":12}`,
	`{"remark":"\u00e9\ud800","extFields":{"\u2028":"\\\"","a":true}}`,
	`{"CODE":3,"Code":4,"ExtFields":{"a":"1"},"extfields":{"b":"2","a":null}}`,
	`{"code":null,"opaque":-2147483648,"flag":2147483647,"language":null}`,
	`{"extFields":{"x":"\ud83d\ude00\ud83d","y":"\/\b\f\n\r\t","z":-0.5e+3}}`,
	"{\"remark\":\"\xff\xfe\",\"extFields\":{\"\xc3\":\"\xe2\x82\"}}",
	` { "code" : 1 , "skip" : [1,{"a":[true,false,null]},"s"] } `,
	`{}`, `null`, `{"code":1e3}`, `{"code":"1"}`, `{"extFields":[]}`, `{"language":1.5}`, `{"a":1}x`, `{"a":}`,
}

func TestProtocolJSONHeaderMatchesEncodingJSON(t *testing.T) {
	for _, s := range jsonHeaderSeeds {
		want, werr := refDecode([]byte(s))
		got, gerr := decodeOurs([]byte(s))
		if (werr == nil) != (gerr == nil) {
			t.Errorf("%s: encoding/json err %v, scanner err %v", s, werr, gerr)
			continue
		}
		if werr == nil && !sameResult(want, got) {
			t.Errorf("%s:\n got %+v\nwant %+v", s, got, want)
		}
	}
}

// FuzzProtocolJSONHeader holds the hand-written scanner to encoding/json: the same inputs are
// accepted, with the same values, and an encode/decode round trip keeps them.
func FuzzProtocolJSONHeader(f *testing.F) {
	for _, s := range jsonHeaderSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 1<<16 {
			return
		}
		want, werr := refDecode(b)
		got, gerr := decodeOurs(b)
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("%q: encoding/json err %v, scanner err %v", b, werr, gerr)
		}
		if werr != nil {
			return
		}
		if !sameResult(want, got) {
			t.Fatalf("%q:\n got %+v\nwant %+v", b, got, want)
		}
		h := Header{Code: got.code, Language: got.language, Version: got.version, Opaque: got.opaque, Flag: got.flag, Remark: got.remark}
		for k, v := range got.ext {
			h.Ext = append(h.Ext, ExtField{k, v})
		}
		enc := AppendJSONHeader(nil, &h)
		again, err := decodeOurs(enc)
		if err != nil || !sameResult(again, got) {
			t.Fatalf("round trip of %q via %q: %+v %v", b, enc, again, err)
		}
	})
}

// FuzzProtocolBinaryHeader decodes arbitrary ROCKETMQ header bytes: no panic, and an accepted
// header survives an encode/decode round trip.
func FuzzProtocolBinaryHeader(f *testing.F) {
	h := Header{Code: 34, Language: "GO", Version: 409, Opaque: 7, Flag: 1, Remark: "x", Ext: []ExtField{{"a", "b"}, {"", ""}}}
	b, _ := AppendBinaryHeader(nil, &h)
	f.Add(b)
	f.Add(make([]byte, 21))
	f.Add(append(make([]byte, 17), 0, 0, 0, 3, 0, 1, 'k'))
	f.Fuzz(func(t *testing.T, b []byte) {
		var h Header
		if err := DecodeBinaryHeader(b, &h); err != nil {
			return
		}
		enc, err := AppendBinaryHeader(nil, &h)
		if err != nil {
			t.Fatal(err)
		}
		var h2 Header
		if err := DecodeBinaryHeader(enc, &h2); err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if fmt.Sprint(h) != fmt.Sprint(h2) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", h2, h)
		}
	})
}

func TestProtocolJSONHeaderZeroAlloc(t *testing.T) {
	src := []byte(jsonHeaderSeeds[1])
	buf := make([]byte, len(src))
	h := Header{Ext: make([]ExtField, 0, 16)}
	allocs := testing.AllocsPerRun(100, func() {
		copy(buf, src)
		if err := DecodeJSONHeader(buf, &h); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per decode, want 0", allocs)
	}
	props := ""
	for _, f := range h.Ext {
		if f.Key == "properties" {
			props = f.Value
		}
	}
	if props != "TAGS\x01TagA\x02KEYS\x01k1 k2\x02UNIQ_KEY\x01C0000202284E0000000070d08de00001\x02" {
		t.Fatalf("properties %q", props)
	}
}

func BenchmarkProtocolJSONHeader(b *testing.B) {
	src := []byte(jsonHeaderSeeds[1])
	buf := make([]byte, len(src))
	h := Header{Ext: make([]ExtField, 0, 16)}
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		copy(buf, src)
		if err := DecodeJSONHeader(buf, &h); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkProtocolJSONHeaderEncodingJSON(b *testing.B) {
	src := []byte(jsonHeaderSeeds[1])
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := refDecode(src); err != nil {
			b.Fatal(err)
		}
	}
}

// TestProtocolHeaderDuplicateKeysLastWins: a key repeated in extFields keeps its first position
// and its last value, in both serializations (the decoders skip the scan for earlier entries
// only for keys they have not seen, so every key here is repeated at least once).
func TestProtocolHeaderDuplicateKeysLastWins(t *testing.T) {
	var h Header
	err := DecodeJSONHeader([]byte(`{"extFields":{"a":"1","b":"2","topic":"x","a":"3","b":null,"topic":"y","b":"4"}}`), &h)
	if err != nil {
		t.Fatal(err)
	}
	want := []ExtField{{"a", "3"}, {"topic", "y"}, {"b", "4"}}
	if !reflect.DeepEqual(h.Ext, want) {
		t.Fatalf("JSON ext = %q, want %q", h.Ext, want)
	}
	enc := &Header{Language: "GO", Ext: []ExtField{{"a", "1"}, {"topic", "x"}, {"a", "3"}, {"topic", "y"}}}
	b, err := AppendBinaryHeader(nil, enc)
	if err != nil {
		t.Fatal(err)
	}
	if err := DecodeBinaryHeader(b, &h); err != nil {
		t.Fatal(err)
	}
	if want := []ExtField{{"a", "3"}, {"topic", "y"}}; !reflect.DeepEqual(h.Ext, want) {
		t.Fatalf("binary ext = %q, want %q", h.Ext, want)
	}
}

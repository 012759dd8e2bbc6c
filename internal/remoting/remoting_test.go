package remoting

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

func mustDecode(t *testing.T, frame []byte) *Command {
	t.Helper()
	if len(frame) < 4 {
		t.Fatalf("frame of %d bytes", len(frame))
	}
	if got := int(binary.BigEndian.Uint32(frame)); got != len(frame)-4 {
		t.Fatalf("length field %d, want %d", got, len(frame)-4)
	}
	c, err := DecodeFrame(frame[4:])
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	return c
}

func jsonFrame(header string, body []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(4+len(header)+len(body)))
	b = binary.BigEndian.AppendUint32(b, uint32(len(header)))
	b = append(b, header...)
	return append(b, body...)
}

func TestRemotingJSONEncodeMatchesGoClient(t *testing.T) {
	c := &Command{Code: GetRouteInfoByTopic, Language: "GO", Version: 317, Opaque: 1,
		ExtFields: map[string]string{"topic": "TopicTest"}}
	got, err := c.Encode()
	if err != nil {
		t.Fatal(err)
	}
	want := jsonFrame(`{"code":105,"language":"GO","version":317,"opaque":1,"flag":0,"remark":"","extFields":{"topic":"TopicTest"}}`, nil)
	if !bytes.Equal(got, want) {
		t.Fatalf("got\n%q\nwant\n%q", got, want)
	}
	if got[3] != 0x70 || got[7] != 0x6c {
		t.Fatalf("length bytes % x", got[:8])
	}
}

func TestRemotingBinaryEncodeMatchesReference(t *testing.T) {
	c := &Command{Code: GetRouteInfoByTopic, Language: "GO", Version: 317, Opaque: 1,
		ExtFields: map[string]string{"topic": "TopicTest"}, SerializeType: SerializeRocketMQ}
	got, err := c.Encode()
	if err != nil {
		t.Fatal(err)
	}
	want, _ := hex.DecodeString("0000002d01000029" + "0069" + "09" + "013d" + "00000001" + "00000000" + "00000000" + "00000014" +
		"0005" + hex.EncodeToString([]byte("topic")) + "00000009" + hex.EncodeToString([]byte("TopicTest")))
	if !bytes.Equal(got, want) {
		t.Fatalf("got  % x\nwant % x", got, want)
	}
	d := mustDecode(t, got)
	if d.Code != 105 || d.Language != "GO" || d.Version != 317 || d.Opaque != 1 || d.ExtFields["topic"] != "TopicTest" || d.SerializeType != SerializeRocketMQ {
		t.Fatalf("decoded %+v", d)
	}
}

func TestRemotingJSONDecodeJavaStyle(t *testing.T) {
	hdr := `{"code":0,"extFields":{"offset":"0","n":5,"b":true,"z":null},"flag":1,"language":"JAVA","opaque":11,"serializeTypeCurrentRPC":"JSON","version":409}`
	c := mustDecode(t, jsonFrame(hdr, []byte("body")))
	if c.Code != 0 || c.Flag != 1 || c.Language != "JAVA" || c.Opaque != 11 || c.Version != 409 || c.Remark != "" {
		t.Fatalf("decoded %+v", c)
	}
	want := map[string]string{"offset": "0", "n": "5", "b": "true"}
	if !reflect.DeepEqual(c.ExtFields, want) {
		t.Fatalf("ext %v want %v", c.ExtFields, want)
	}
	if string(c.Body) != "body" || !c.IsResponse() || c.IsOneway() {
		t.Fatalf("body %q flag %d", c.Body, c.Flag)
	}
}

func TestRemotingJSONDecodeTolerance(t *testing.T) {
	cases := []struct {
		name, hdr string
		lang      string
	}{
		{"remark null, ext null", `{"code":34,"language":"GO","remark":null,"extFields":null,"opaque":3}`, "GO"},
		{"absent fields", `{"opaque":3,"code":34}`, ""},
		{"language number", `{"code":34,"language":9,"opaque":3}`, "GO"},
		{"language unknown number", `{"code":34,"language":99,"opaque":3}`, "OTHER"},
		{"whitespace", " {\n\"code\" : 34 , \"opaque\":3 }\n", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := mustDecode(t, jsonFrame(tc.hdr, nil))
			if c.Code != 34 || c.Opaque != 3 || c.Language != tc.lang || c.Remark != "" || c.ExtFields == nil || len(c.ExtFields) != 0 {
				t.Fatalf("decoded %+v", c)
			}
		})
	}
}

func TestRemotingJSONDecodeRejectsGarbage(t *testing.T) {
	for _, hdr := range []string{`null`, `[]`, `{"code":"x"}`, `{"code":1,"extFields":{"a":{}}}`, `{"code":99999999999}`,
		`{"language":{}}`, `{"code":1}x`, `garbage!`, `{"extFields":[1]}`} {
		_, err := DecodeFrame(jsonFrame(hdr, nil)[4:])
		if !errors.Is(err, ErrBadHeader) {
			t.Errorf("%s: err %v, want ErrBadHeader", hdr, err)
		}
	}
}

func TestRemotingEncodeRejectsOutOfRange(t *testing.T) {
	for _, c := range []*Command{{Code: 40000}, {Code: -40000}, {Version: 32768}, {SerializeType: 7}} {
		if _, err := c.Encode(); !errors.Is(err, ErrEncode) {
			t.Errorf("%+v: err %v, want ErrEncode", c, err)
		}
	}
	if _, err := (&Command{Code: -32768, Version: 32767}).Encode(); err != nil {
		t.Fatalf("int16 bounds refused: %v", err)
	}
}

func TestRemotingRoundTripBothSerializations(t *testing.T) {
	for _, st := range []byte{SerializeJSON, SerializeRocketMQ} {
		c := NewRequest(SendMessageV2, map[string]string{"a": "1", "b": "x\"y\\z\n\u2028é", "": "", "empty": ""}, []byte{0, 1, 2})
		c.Remark = "remark ü"
		c.Flag = FlagOneway
		c.SerializeType = st
		b, err := c.Encode()
		if err != nil {
			t.Fatal(err)
		}
		d := mustDecode(t, b)
		if !reflect.DeepEqual(c, d) {
			t.Fatalf("serType %d:\n got %+v\nwant %+v", st, d, c)
		}
	}
}

func TestRemotingNewResponse(t *testing.T) {
	req := NewRequest(HeartBeat, nil, nil)
	req.SerializeType = SerializeRocketMQ
	resp := NewResponse(req, SystemBusy, "busy")
	if resp.Opaque != req.Opaque || !resp.IsResponse() || resp.SerializeType != SerializeRocketMQ ||
		resp.Version != CurrentVersion || resp.Code != SystemBusy || resp.Remark != "busy" || resp.ExtFields == nil {
		t.Fatalf("resp %+v", resp)
	}
	if n := NewRequest(HeartBeat, nil, nil); n.Opaque == req.Opaque || n.IsResponse() {
		t.Fatalf("opaque not fresh: %d", n.Opaque)
	}
}

func TestRemotingExtFields(t *testing.T) {
	c := NewRequest(PullMessage, map[string]string{"queueId": "3", "queueOffset": "-9000000000", "bad": "1x",
		"big": "3000000000", "sys": "TRUE", "no": "yes"}, nil)
	if v, err := c.ExtInt32("queueId"); err != nil || v != 3 {
		t.Fatalf("queueId %d %v", v, err)
	}
	if v, err := c.ExtInt64("queueOffset"); err != nil || v != -9000000000 {
		t.Fatalf("queueOffset %d %v", v, err)
	}
	_, err := c.ExtInt32("bad")
	if !errors.Is(err, ErrBadField) || !strings.Contains(err.Error(), "bad") || !strings.Contains(err.Error(), `"1x"`) {
		t.Fatalf("bad: %v", err)
	}
	if _, err := c.ExtInt32("big"); !errors.Is(err, ErrBadField) || !strings.Contains(err.Error(), "3000000000") {
		t.Fatalf("big: %v", err)
	}
	if _, err := c.ExtString("topic"); !errors.Is(err, ErrMissingField) || !strings.Contains(err.Error(), "topic") {
		t.Fatalf("missing: %v", err)
	}
	if _, err := c.ExtInt64("topic"); !errors.Is(err, ErrMissingField) {
		t.Fatalf("missing int64: %v", err)
	}
	if v, err := c.ExtBool("sys"); err != nil || !v {
		t.Fatalf("sys %v %v", v, err)
	}
	if v, err := c.ExtBool("no"); err != nil || v {
		t.Fatalf("no %v %v", v, err)
	}
	if v, err := c.ExtInt32Or("absent", 7); err != nil || v != 7 {
		t.Fatalf("default %d %v", v, err)
	}
	if _, err := c.ExtInt64Or("bad", 7); !errors.Is(err, ErrBadField) {
		t.Fatalf("opt bad: %v", err)
	}
	if !c.ExtBoolOr("absent", true) || c.ExtBoolOr("no", true) {
		t.Fatal("ExtBoolOr")
	}
	c.SetExtInt("n", 42).SetExtBool("f", false)
	if c.ExtFields["n"] != "42" || c.ExtFields["f"] != "false" {
		t.Fatalf("setters %v", c.ExtFields)
	}
}

func TestRemotingFrameLengthChecks(t *testing.T) {
	lenFrame := func(length uint32, rest ...byte) []byte {
		return append(binary.BigEndian.AppendUint32(nil, length), rest...)
	}
	cases := []struct {
		name  string
		frame []byte
		want  error
	}{
		{"short length", lenFrame(3, 0, 0, 0), ErrFrameTooShort},
		{"negative length", lenFrame(0x80000000), ErrFrameTooShort},
		{"too large", lenFrame(1 << 20), ErrFrameTooLarge},
		{"header longer than frame", lenFrame(10, 0, 0, 0, 200, '{', '}', 0, 0, 0, 0), ErrBadHeaderLength},
		{"json header too short", lenFrame(5, 0, 0, 0, 1, '{'), ErrBadHeaderLength},
		{"binary header too short", lenFrame(6, 1, 0, 0, 2, 0, 0), ErrBadHeaderLength},
		{"unknown serType", lenFrame(6, 2, 0, 0, 2, '{', '}'), ErrUnknownSerializeType},
		{"garbage header", lenFrame(6, 0, 0, 0, 2, 'x', 'y'), ErrBadHeader},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadCommand(bytes.NewReader(tc.frame), 1<<16)
			if !errors.Is(err, tc.want) {
				t.Fatalf("ReadCommand err %v, want %v", err, tc.want)
			}
			if len(tc.frame) >= PrefixSize && tc.want != ErrBadHeader {
				if _, err := CheckPrefix(tc.frame, 1<<16); !errors.Is(err, tc.want) {
					t.Fatalf("CheckPrefix err %v, want %v", err, tc.want)
				}
			}
		})
	}
	if _, err := ReadCommand(bytes.NewReader(lenFrame(100, 0, 0)), 0); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("truncated: %v", err)
	}
	if _, err := ReadCommand(bytes.NewReader(nil), 0); !errors.Is(err, io.EOF) {
		t.Fatalf("empty: %v", err)
	}
}

func TestRemotingBinaryDecodeRejectsOverruns(t *testing.T) {
	base := func(remarkLen, extLen uint32, ext []byte) []byte {
		h := make([]byte, 13)
		h = binary.BigEndian.AppendUint32(h, remarkLen)
		h = binary.BigEndian.AppendUint32(h, extLen)
		return append(h, ext...)
	}
	for name, h := range map[string][]byte{
		"remark past header": base(100, 0, nil),
		"negative remark":    base(0xFFFFFFFF, 0, nil),
		"ext past header":    base(0, 100, nil),
		"key past ext":       base(0, 3, []byte{0, 9, 'a'}),
		"negative key":       base(0, 2, []byte{0xFF, 0xFF}),
		"value past ext":     base(0, 7, []byte{0, 1, 'a', 0, 0, 0, 9}),
		"truncated value":    base(0, 4, []byte{0, 1, 'a', 0}),
	} {
		b := binary.BigEndian.AppendUint32(nil, uint32(4+len(h)))
		b = binary.BigEndian.AppendUint32(b, 1<<24|uint32(len(h)))
		b = append(b, h...)
		if _, err := DecodeFrame(b[4:]); !errors.Is(err, ErrBadHeader) {
			t.Errorf("%s: err %v", name, err)
		}
	}
}

// TestOwnCopiesALentCommand: Own of a view (DecodeFrameView) is unaffected by a later reuse of
// the lent frame, keeps values set from elsewhere, and a command that is not a view is its own.
func TestOwnCopiesALentCommand(t *testing.T) {
	req := NewRequest(SendMessageV2, map[string]string{"b": "TopicA", "e": "a\u0001b"}, []byte("payload"))
	req.Remark = "remark"
	b, err := req.Encode()
	if err != nil {
		t.Fatal(err)
	}
	var d DecodeBuffer
	view, err := DecodeFrameView(b[4:], &d)
	if err != nil {
		t.Fatal(err)
	}
	view.SetExt("extra", "from elsewhere")
	owned := view.Own()
	for i := range b {
		b[i] = 'Z'
	}
	if owned.ExtValue("b") != "TopicA" || owned.ExtValue("e") != "a\u0001b" || owned.Remark != "remark" ||
		string(owned.Body) != "payload" || owned.ExtValue("extra") != "from elsewhere" || owned.Language != "GO" {
		t.Fatalf("owned command changed with the lent frame: %+v %v", owned, owned.RawExt())
	}
	if view.ExtValue("b") == "TopicA" {
		t.Fatal("the view did not alias the lent frame (the test proves nothing)")
	}
	fresh, _ := req.Encode()
	c, err := DecodeFrameRaw(fresh[4:])
	if err != nil || c.Borrowed() || c.Own() != c {
		t.Fatalf("Own of an owned command copied it (%v)", err)
	}
}

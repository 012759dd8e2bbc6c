package remoting

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"reflect"
	"testing"
)

// checkRoundTrip re-encodes a decoded command in its own serialization and checks that decoding
// gives the same command back.
func checkRoundTrip(t *testing.T, c *Command) {
	t.Helper()
	b, err := c.Encode()
	if err != nil {
		if !errors.Is(err, ErrEncode) {
			t.Fatalf("encode error not ErrEncode: %v", err)
		}
		if fitsInt16(c.Code) && fitsInt16(c.Version) {
			t.Fatalf("encode failed for an encodable command %+v: %v", c, err)
		}
		return
	}
	if int(binary.BigEndian.Uint32(b)) != len(b)-4 {
		t.Fatalf("length field %d for %d bytes", binary.BigEndian.Uint32(b), len(b))
	}
	d, err := DecodeFrame(b[4:])
	if err != nil {
		t.Fatalf("decode after encode: %v\nframe %q", err, b)
	}
	if !reflect.DeepEqual(c, d) {
		t.Fatalf("round trip differs:\n got %+v\nwant %+v", d, c)
	}
}

func addFrameSeeds(f *testing.F) {
	for _, st := range []byte{SerializeJSON, SerializeRocketMQ} {
		c := NewRequest(SendMessage, map[string]string{"topic": "T", "queueId": "1"}, []byte("hello"))
		c.Remark = "r"
		c.SerializeType = st
		b, _ := c.Encode()
		f.Add(b, uint(3))
		r := NewResponse(c, PullNotFound, "OFFSET_OVERFLOW_ONE")
		b, _ = r.Encode()
		f.Add(b, uint(9))
	}
	f.Add(jsonFrame(`{"code":0,"extFields":{"offset":"0"},"flag":1,"language":"JAVA","opaque":11,"serializeTypeCurrentRPC":"JSON","version":409}`, nil), uint(0))
	f.Add(jsonFrame(`{"code":34,"language":9,"remark":null,"extFields":null}`, []byte{1}), uint(5))
	f.Add([]byte{0, 0, 0, 3, 0, 0, 0}, uint(1))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff}, uint(2))
	f.Add([]byte{0, 0, 0, 8, 5, 0, 0, 2, '{', '}', 0, 0}, uint(4))
}

// FuzzRemotingFrame feeds arbitrary bytes, split in two reads at an arbitrary point, to
// ReadCommand and checks that every accepted frame survives an encode/decode round trip.
func FuzzRemotingFrame(f *testing.F) {
	addFrameSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte, split uint) {
		at := int(split % uint(len(data)+1))
		r := io.MultiReader(bytes.NewReader(data[:at]), bytes.NewReader(data[at:]))
		c, err := ReadCommand(r, 1<<20)
		if err != nil {
			return
		}
		if len(data) >= PrefixSize {
			if n, err := CheckPrefix(data, 1<<20); err != nil || n != int(binary.BigEndian.Uint32(data)) {
				t.Fatalf("CheckPrefix refused a frame ReadCommand accepted: %d %v", n, err)
			}
		}
		checkRoundTrip(t, c)
	})
}

func headerFrame(serType byte, header []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(serType)<<24|uint32(len(header)))
	return append(b, header...)
}

// FuzzRemotingJSONHeader decodes arbitrary JSON header bytes and checks the round trip.
func FuzzRemotingJSONHeader(f *testing.F) {
	for _, s := range []string{
		`{"code":105,"language":"GO","version":317,"opaque":1,"flag":0,"remark":"","extFields":{"topic":"TopicTest"}}`,
		`{"code":0,"extFields":{"offset":"0","n":5},"flag":1,"language":"JAVA","opaque":11,"serializeTypeCurrentRPC":"JSON","version":409}`,
		`{"remark":null,"extFields":null,"language":12}`,
		`{"remark":"\u00e9\ud800","extFields":{"\u2028":"\\\"","a":true}}`,
		`{}`, `null`, `{"code":1e3}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, header []byte) {
		if len(header) > 1<<16 {
			return
		}
		c, err := DecodeFrame(headerFrame(SerializeJSON, header))
		if err != nil {
			return
		}
		if c.SerializeType != SerializeJSON || c.ExtFields == nil {
			t.Fatalf("decoded %+v", c)
		}
		checkRoundTrip(t, c)
		// The same command in binary must decode to the same values (language becomes a code).
		c2 := *c
		c2.SerializeType = SerializeRocketMQ
		b, err := c2.Encode()
		if err != nil {
			return
		}
		d, err := DecodeFrame(b[4:])
		if err != nil {
			t.Fatalf("binary decode of a JSON-decoded command: %v", err)
		}
		c2.Language = LanguageName(int(LanguageCode(c.Language)))
		if !reflect.DeepEqual(&c2, d) {
			t.Fatalf("cross round trip:\n got %+v\nwant %+v", d, &c2)
		}
	})
}

// FuzzRemotingBinaryHeader decodes arbitrary ROCKETMQ header bytes and checks the round trip.
func FuzzRemotingBinaryHeader(f *testing.F) {
	c := NewRequest(HeartBeat, map[string]string{"a": "b", "": ""}, nil)
	c.Remark = "x"
	c.SerializeType = SerializeRocketMQ
	b, _ := c.Encode()
	f.Add(b[8:])
	f.Add(make([]byte, 21))
	f.Add(append(make([]byte, 17), 0, 0, 0, 3, 0, 1, 'k'))
	f.Fuzz(func(t *testing.T, header []byte) {
		if len(header) > 1<<16 {
			return
		}
		c, err := DecodeFrame(headerFrame(SerializeRocketMQ, header))
		if err != nil {
			return
		}
		checkRoundTrip(t, c)
	})
}

// FuzzRemotingFrameView decodes an arbitrary frame (the bytes after the length field) as the
// server decodes an inline request, in place inside a larger lent buffer with bytes after it: the
// view must equal DecodeFrameRaw of a copy, its Body must not reach past the frame, and Own must
// give the same command still after the whole lent buffer and the DecodeBuffer were overwritten.
func FuzzRemotingFrameView(f *testing.F) {
	for _, st := range []byte{SerializeJSON, SerializeRocketMQ} {
		c := NewRequest(SendMessageV2, map[string]string{"b": "T\\\"", "i": "\u00e9\x01\x02"}, []byte("hello"))
		c.Remark = "r\n"
		c.SerializeType = st
		b, _ := c.Encode()
		f.Add(b[4:])
	}
	f.Add(headerFrame(SerializeJSON, []byte(`{"remark":"\u00e9\ud800","language":9,"extFields":{"\u2028":"\\\"","a":true}}`)))
	f.Add([]byte{0, 0, 0, 2, '{', '}', 'x'})
	f.Fuzz(func(t *testing.T, frame []byte) {
		want, err := DecodeFrameRaw(bytes.Clone(frame))
		lent := append(bytes.Clone(frame), "NEXT FRAME"...)
		var d DecodeBuffer
		view, verr := DecodeFrameView(lent[:len(frame)], &d)
		if (err == nil) != (verr == nil) {
			t.Fatalf("DecodeFrameRaw error %v, DecodeFrameView error %v", err, verr)
		}
		if err != nil {
			return
		}
		if !view.Borrowed() || want.Borrowed() {
			t.Fatalf("Borrowed: view %v, raw %v", view.Borrowed(), want.Borrowed())
		}
		if cap(view.Body) != len(view.Body) {
			t.Fatalf("view Body cap %d reaches past its %d bytes", cap(view.Body), len(view.Body))
		}
		if !sameCommand(view, want) {
			t.Fatalf("view %+v %v, want %+v %v", view, view.RawExt(), want, want.RawExt())
		}
		owned := view.Own()
		if owned.Borrowed() || owned == view {
			t.Fatal("Own returned a borrowed command")
		}
		for i := range lent {
			lent[i] = '#'
		}
		d = DecodeBuffer{}
		if !sameCommand(owned, want) {
			t.Fatalf("owned after the lent buffer was reused %+v %v, want %+v %v", owned, owned.RawExt(), want, want.RawExt())
		}
	})
}

// sameCommand compares every decoded field and the header list in order.
func sameCommand(a, b *Command) bool {
	return a.Code == b.Code && a.Language == b.Language && a.Version == b.Version && a.Opaque == b.Opaque &&
		a.Flag == b.Flag && a.Remark == b.Remark && bytes.Equal(a.Body, b.Body) && (a.Body == nil) == (b.Body == nil) &&
		a.SerializeType == b.SerializeType && reflect.DeepEqual(a.RawExt(), b.RawExt())
}

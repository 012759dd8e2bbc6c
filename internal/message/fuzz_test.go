package message

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"
)

func FuzzMessageDecode(f *testing.F) {
	b, _ := Encode(nil, sample())
	f.Add(b, 10)
	f.Add(b[:50], 3)
	f.Add([]byte{0, 0, 0, 100, 0xCB, 0xD4, 0x31, 0x94}, 0)
	f.Add(make([]byte, 120), 60)
	f.Fuzz(func(t *testing.T, data []byte, split int) {
		m, err := Decode(data, true)
		// Verify accepts exactly the inputs that decode with the CRC check as one whole record.
		whole := err == nil && int(m.StoreSize) == len(data)
		if verr := Verify(data); (verr == nil) != whole {
			t.Fatalf("Verify = %v, Decode = %v (whole record: %v)", verr, err, whole)
		}
		if err != nil {
			return
		}
		// Whatever decodes re-encodes to a record that decodes to the same fields.
		again, err := Encode(nil, m)
		if err != nil {
			t.Fatalf("decoded message does not re-encode: %v", err)
		}
		m2, err := Decode(again, true)
		if err != nil {
			t.Fatalf("re-encoded message does not decode: %v", err)
		}
		if m2.Topic != m.Topic || !bytes.Equal(m2.Body, m.Body) || m2.QueueOffset != m.QueueOffset ||
			m2.CommitLogOffset != m.CommitLogOffset || len(m2.Properties) != len(m.Properties) {
			t.Fatalf("round trip changed the message: %+v vs %+v", m2, m)
		}
		// Decoding a prefix never panics either.
		if split > 0 && split < len(data) {
			_, _ = Decode(data[:split], true)
		}
		_, _ = DecodeAll(data)
	})
}

func FuzzMessageDecodeBatch(f *testing.F) {
	f.Add(EncodeBatch([]BatchEntry{{Body: []byte("x"), Properties: map[string]string{"A": "b"}}}))
	f.Add([]byte{0, 0, 0, 22, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := DecodeBatch(data)
		if err != nil {
			return
		}
		if _, err := DecodeBatch(EncodeBatch(entries)); err != nil {
			t.Fatalf("re-encoded batch does not decode: %v", err)
		}
	})
}

func FuzzMessageParseOffsetMsgID(f *testing.F) {
	f.Add("7F00000100004DC70000000000000000")
	f.Add("zz")
	f.Add("00000000000000000000FFFF7F00000100004DC7000000000000FFFF") // IPv4-mapped IPv6
	f.Add("20010DB80000000000000000000000010000000100000000000000FF")
	f.Fuzz(func(t *testing.T, id string) {
		host, off, err := ParseOffsetMsgID(id)
		if err != nil {
			return
		}
		// Encoding what was parsed gives the id back in upper case; an IPv4-mapped IPv6 address
		// is written in its 32-character IPv4 form (the last 32 characters).
		want := strings.ToUpper(id)
		if len(want) == 56 && strings.HasPrefix(want, "00000000000000000000FFFF") {
			want = want[24:]
		}
		if again := OffsetMsgID(host, off); again != want {
			t.Fatalf("round trip of %q gave %q, want %q", id, again, want)
		}
	})
}

// FuzzMessageEncode builds messages from arbitrary fields (including zero, IPv4, IPv4-mapped and
// IPv6 hosts): Encode never panics, and what it encodes decodes and verifies.
func FuzzMessageEncode(f *testing.F) {
	f.Add("T", []byte("body"), "KEYS", "k1 k2", uint8(0), []byte{127, 0, 0, 1}, uint16(10911), int32(0))
	f.Add("", []byte{}, "", "", uint8(1), []byte{}, uint16(0), int32(0xC))
	f.Add("T", []byte("x"), "A\x01", "b\x02", uint8(2), make([]byte, 16), uint16(1), int32(-1))
	f.Fuzz(func(t *testing.T, topic string, body []byte, k, v string, hostKind uint8, ip []byte, port uint16, sys int32) {
		var host netip.AddrPort
		switch hostKind % 3 {
		case 1:
			if a, ok := netip.AddrFromSlice(ip); ok {
				host = netip.AddrPortFrom(a, port)
			}
		case 2:
			var a16 [16]byte
			copy(a16[:], ip)
			host = netip.AddrPortFrom(netip.AddrFrom16(a16), port)
		}
		m := &Message{Topic: topic, Body: body, BornHost: host, StoreHost: host, SysFlag: sys,
			Properties: map[string]string{k: v}}
		b, err := Encode(nil, m)
		if err != nil {
			return
		}
		if err := Verify(b); err != nil {
			t.Fatalf("encoded record does not verify: %v", err)
		}
		got, err := Decode(b, true)
		if err != nil || got.Topic != topic || !bytes.Equal(got.Body, body) {
			t.Fatalf("encoded record decodes as %+v, %v", got, err)
		}
		_ = OffsetMsgID(host, int64(port))
	})
}

package message

import (
	"bytes"
	"errors"
	"net/netip"
	"reflect"
	"testing"
)

func sample() *Message {
	return &Message{
		Topic: "TopicTest", QueueID: 3, Flag: 7, QueueOffset: 42, CommitLogOffset: 1 << 33, SysFlag: FlagCompressed,
		BornTimestamp: 1700000000123, BornHost: netip.MustParseAddrPort("192.0.2.2:10318"),
		StoreTimestamp: 1700000000456, StoreHost: netip.MustParseAddrPort("127.0.0.1:10911"),
		ReconsumeTimes: 2, PreparedTransactionOffset: 99, Body: []byte("hello body"),
		Properties: map[string]string{PropertyTags: "TagA", PropertyKeys: "k1 k2", PropertyUniqKey: "C0000202284E0000000070d08de00001"},
	}
}

func TestMessageEncodeDecodeRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name        string
		born, store string
		wantSize    int
	}{
		{"ipv4", "192.0.2.2:10318", "127.0.0.1:10911", 0},
		{"ipv6 born", "[2001:db8::1]:10318", "127.0.0.1:10911", 12},
		{"ipv6 both", "[2001:db8::1]:10318", "[2001:db8::2]:10911", 24},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := sample()
			m.BornHost = netip.MustParseAddrPort(tc.born)
			m.StoreHost = netip.MustParseAddrPort(tc.store)
			b, err := Encode(nil, m)
			if err != nil {
				t.Fatal(err)
			}
			props := FormatProperties(m.Properties)
			if want := 91 + len(m.Body) + len(m.Topic) + len(props) + tc.wantSize; len(b) != want {
				t.Fatalf("encoded %d bytes, want %d", len(b), want)
			}
			got, err := Decode(b, true)
			if err != nil {
				t.Fatal(err)
			}
			if got.StoreSize != int32(len(b)) || got.BodyCRC != m.BodyCRC {
				t.Fatalf("size %d crc %x", got.StoreSize, got.BodyCRC)
			}
			got.StoreSize, m.StoreSize = 0, 0
			if !reflect.DeepEqual(got, m) {
				t.Fatalf("round trip:\n got %+v\nwant %+v", got, m)
			}
		})
	}
}

func TestMessageFieldOffsetsMatchTheProtocol(t *testing.T) {
	b, err := Encode(nil, sample())
	if err != nil {
		t.Fatal(err)
	}
	// Java's fixed positions for IPv4 hosts (§3.1): magic 4, flag 16, queue offset 20,
	// physical offset 28, sysFlag 36, store timestamp 56.
	if !bytes.Equal(b[4:8], []byte{0xDA, 0xA3, 0x20, 0xA7}) {
		t.Fatalf("magic = % x", b[4:8])
	}
	if b[19] != 7 || b[27] != 42 || b[31] != 2 || b[39] != 1 {
		t.Fatalf("fixed fields misplaced: % x", b[:40])
	}
	if got := int64(b[56])<<56 | int64(b[57])<<48 | int64(b[58])<<40 | int64(b[59])<<32 | int64(b[60])<<24 | int64(b[61])<<16 | int64(b[62])<<8 | int64(b[63]); got != 1700000000456 {
		t.Fatalf("store timestamp at 56 = %d", got)
	}
}

func TestMessageDecodeDetectsCorruption(t *testing.T) {
	b, _ := Encode(nil, sample())
	bad := append([]byte(nil), b...)
	bad[90] ^= 0xFF // inside the body
	if _, err := Decode(bad, true); !errors.Is(err, ErrBadCRC) {
		t.Fatalf("flipped body byte: err = %v, want ErrBadCRC", err)
	}
	if _, err := Decode(bad, false); err != nil {
		t.Fatalf("without CRC check: %v", err)
	}
	if _, err := Decode(b[:len(b)-1], true); !errors.Is(err, ErrShort) {
		t.Fatalf("truncated: err = %v, want ErrShort", err)
	}
	zero := make([]byte, 64)
	if _, err := Decode(zero, true); !errors.Is(err, ErrBadMagic) {
		t.Fatalf("zeros: err = %v, want ErrBadMagic", err)
	}
	blank := []byte{0, 0, 0, 100, 0xCB, 0xD4, 0x31, 0x94}
	if n, err := RecordSize(blank); !errors.Is(err, ErrBlank) || n != 100 {
		t.Fatalf("blank: n=%d err=%v", n, err)
	}
	long := sample()
	long.Topic = string(make([]byte, 128))
	if _, err := Encode(nil, long); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("128-byte topic: err = %v", err)
	}
}

func TestMessageEncodeZeroHosts(t *testing.T) {
	// A message without born or store host (zero netip.AddrPort) encodes them as 0.0.0.0:0.
	m := &Message{Topic: "T", Body: []byte("b")}
	b, err := Encode(nil, m)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(b, true)
	if err != nil {
		t.Fatal(err)
	}
	if got.BornHost != netip.AddrPortFrom(netip.IPv4Unspecified(), 0) || got.StoreHost.Port() != 0 || len(b) != 91+1+1 {
		t.Fatalf("zero hosts decode as %v %v, record %d bytes", got.BornHost, got.StoreHost, len(b))
	}
	if OffsetMsgID(netip.AddrPort{}, 5) != "00000000000000000000000000000005" {
		t.Fatalf("offset id of a zero host: %s", OffsetMsgID(netip.AddrPort{}, 5))
	}
}

func TestMessageVerify(t *testing.T) {
	b, _ := Encode(nil, sample())
	if err := Verify(b); err != nil {
		t.Fatalf("valid record: %v", err)
	}
	bad := append([]byte(nil), b...)
	bad[90] ^= 0xFF // inside the body
	if err := Verify(bad); !errors.Is(err, ErrBadCRC) {
		t.Fatalf("flipped body byte: err = %v, want ErrBadCRC", err)
	}
	if err := Verify(append(append([]byte(nil), b...), 0)); !errors.Is(err, ErrBadLength) {
		t.Fatalf("trailing byte: err = %v, want ErrBadLength", err)
	}
	if err := Verify(b[:len(b)-1]); err == nil {
		t.Fatal("truncated record verified")
	}
	v6 := sample()
	v6.BornHost = netip.MustParseAddrPort("[2001:db8::1]:9000")
	v6.StoreHost = netip.MustParseAddrPort("[2001:db8::2]:10911")
	b6, _ := Encode(nil, v6)
	if err := Verify(b6); err != nil {
		t.Fatalf("IPv6 hosts: %v", err)
	}
}

func TestMessageDecodeAll(t *testing.T) {
	var b []byte
	for i := 0; i < 3; i++ {
		m := sample()
		m.QueueOffset = int64(i)
		b, _ = Encode(b, m)
	}
	msgs, err := DecodeAll(b)
	if err != nil || len(msgs) != 3 || msgs[2].QueueOffset != 2 {
		t.Fatalf("DecodeAll: %d messages, err %v", len(msgs), err)
	}
}

func TestMessageProperties(t *testing.T) {
	for in, want := range map[string]map[string]string{
		"":                            {},
		"A\x01a\x02B\x01b":            {"A": "a", "B": "b"},
		"A\x01a\x02B\x01b\x02":        {"A": "a", "B": "b"},
		"\x02\x02A\x01a\x02\x01x\x02": {"A": "a"},
		"A\x01a\x01b\x02":             {"A": "a\x01b"},
		"noValue\x02K\x01":            {},
	} {
		if got := ParseProperties(in); !reflect.DeepEqual(got, want) {
			t.Errorf("ParseProperties(%q) = %v, want %v", in, got, want)
		}
	}
	m := map[string]string{"B": "2", "A": "1"}
	if got := FormatProperties(m); got != "A\x011\x02B\x012" {
		t.Fatalf("FormatProperties = %q", got)
	}
}

func TestMessageOffsetMsgID(t *testing.T) {
	id := OffsetMsgID(netip.MustParseAddrPort("127.0.0.1:19911"), 0)
	if id != "7F00000100004DC70000000000000000" {
		t.Fatalf("id = %s (protocol example: 7F00000100004DC70000000000000000)", id)
	}
	host, off, err := ParseOffsetMsgID(OffsetMsgID(netip.MustParseAddrPort("10.1.2.3:10911"), 123456789))
	if err != nil || host.String() != "10.1.2.3:10911" || off != 123456789 {
		t.Fatalf("round trip: %v %d %v", host, off, err)
	}
	v6 := OffsetMsgID(netip.MustParseAddrPort("[2001:db8::7]:10911"), 5)
	if len(v6) != 56 {
		t.Fatalf("IPv6 id length %d", len(v6))
	}
	if h, o, err := ParseOffsetMsgID(v6); err != nil || h.Addr().String() != "2001:db8::7" || o != 5 {
		t.Fatalf("IPv6 round trip: %v %d %v", h, o, err)
	}
	// The append form writes the same characters after what dst holds, without allocating.
	host6 := netip.MustParseAddrPort("[2001:db8::7]:10911")
	if got := string(AppendOffsetMsgID([]byte("x,"), host6, 5)); got != "x,"+v6 {
		t.Fatalf("AppendOffsetMsgID = %q, want %q", got, "x,"+v6)
	}
	buf := make([]byte, 0, 56)
	if n := testing.AllocsPerRun(100, func() { buf = AppendOffsetMsgID(buf[:0], host6, 1<<40) }); n != 0 {
		t.Fatalf("AppendOffsetMsgID allocates %v times into a buffer with room", n)
	}
	for _, bad := range []string{"", "XYZ", "7F00000100004DC7000000000000000G", "7F0000010000"} {
		if _, _, err := ParseOffsetMsgID(bad); !errors.Is(err, ErrBadMsgID) {
			t.Errorf("ParseOffsetMsgID(%q) err = %v", bad, err)
		}
	}
	a, b := NewUniqKey(), NewUniqKey()
	if a == b || len(a) != 32 {
		t.Fatalf("unique keys %q %q", a, b)
	}
}

func TestMessageTagsCode(t *testing.T) {
	// Values the Go client sends in codeSet for these tags (§2.7), equal to Java's hashCode for ASCII.
	for tag, want := range map[string]int64{"TagA": 2598919, "TagB": 2598920, "": 0, "a": 97} {
		if got := TagsCode(tag); got != want {
			t.Errorf("TagsCode(%q) = %d, want %d", tag, got, want)
		}
	}
	// Java hashes UTF-16 code units: "é" is one unit (0xE9); "😀" is the surrogate pair D83D DE00.
	if got := TagsCode("é"); got != 0xE9 {
		t.Errorf("TagsCode(é) = %d", got)
	}
	if got, want := TagsCode("😀"), int64(int32(31*0xD83D+0xDE00)); got != want {
		t.Errorf("TagsCode(😀) = %d, want %d", got, want)
	}
	// Overflow wraps like Java's int and is sign-extended.
	if got := TagsCode("a very long tag name that overflows"); got != int64(int32(got)) {
		t.Errorf("not sign-extended: %d", got)
	}
}

func TestMessageBatchRoundTrip(t *testing.T) {
	entries := []BatchEntry{
		{Flag: 1, Body: []byte("one"), Properties: map[string]string{"KEYS": "k1"}},
		{Flag: 0, Body: []byte{}, Properties: map[string]string{}},
		{Flag: 2, Body: []byte("three"), Properties: map[string]string{"TAGS": "T"}},
	}
	got, err := DecodeBatch(EncodeBatch(entries))
	if err != nil || len(got) != 3 {
		t.Fatalf("DecodeBatch: %v, %d entries", err, len(got))
	}
	for i := range entries {
		if got[i].Flag != entries[i].Flag || string(got[i].Body) != string(entries[i].Body) || !reflect.DeepEqual(got[i].Properties, entries[i].Properties) {
			t.Fatalf("entry %d = %+v", i, got[i])
		}
	}
	if _, err := DecodeBatch([]byte{0, 0, 0, 5}); !errors.Is(err, ErrBadBatch) {
		t.Fatalf("short batch: %v", err)
	}
}

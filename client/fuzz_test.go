package client_test

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/skiffmq/skiff/client"
	"github.com/skiffmq/skiff/internal/message"
)

func fuzzSeedRecords(f *testing.F) {
	f.Helper()
	plain := baseStored()
	plain.Properties = map[string]string{client.PropertyTags: "T", client.PropertyKeys: "a b", client.PropertyDelayLevel: "x",
		client.PropertyUniqKey: "U"}
	one, err := message.Encode(nil, plain)
	if err != nil {
		f.Fatal(err)
	}
	comp := baseStored()
	comp.Body, _ = client.Deflate(bytes.Repeat([]byte("z"), 300), 5)
	comp.SysFlag = message.FlagCompressed
	two, err := message.Encode(slices0(one), comp)
	if err != nil {
		f.Fatal(err)
	}
	bad := baseStored()
	bad.Body = []byte("not zlib")
	bad.SysFlag = message.FlagCompressed
	badRec, _ := message.Encode(nil, bad)
	v6 := baseStored()
	v6.StoreHost = netip.MustParseAddrPort("[::1]:10911")
	v6Rec, _ := message.Encode(nil, v6)
	f.Add(one)
	f.Add(two)
	f.Add(badRec)
	f.Add(v6Rec)
	f.Add(one[:len(one)-3])
	f.Add([]byte{})
	f.Add([]byte{0, 0, 0, 8, 0xDA, 0xA3, 0x20, 0xA7})
}

func slices0(b []byte) []byte { return append([]byte(nil), b...) }

// FuzzFromStored decodes arbitrary bytes as a pull body and converts every record: it must never
// panic, and a converted message keeps the record's position.
func FuzzFromStored(f *testing.F) {
	fuzzSeedRecords(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		msgs, _ := message.DecodeAll(b)
		for _, s := range msgs {
			m, err := client.FromStored(s, "b")
			if err != nil {
				if s.SysFlag&message.FlagCompressed == 0 {
					t.Fatalf("FromStored of an uncompressed record failed: %v", err)
				}
				continue
			}
			if m.Topic != s.Topic || m.QueueOffset != s.QueueOffset || m.QueueID != s.QueueID || m.BrokerName != "b" {
				t.Fatalf("FromStored lost the position: %+v from %+v", m, s)
			}
			if m.MsgID == "" && s.Properties[client.PropertyUniqKey] == "" {
				t.Fatalf("no message id for %+v", s)
			}
			for _, k := range []string{client.PropertyTags, client.PropertyKeys, client.PropertyDelayLevel} {
				if _, ok := m.Properties[k]; ok {
					t.Fatalf("property %s left in %v", k, m.Properties)
				}
			}
			_ = m.String()
		}
	})
}

// FuzzInflate inflates arbitrary bytes: never a panic, never more than MaxInflatedBody, and what
// inflates deflates back to itself.
func FuzzInflate(f *testing.F) {
	z, _ := client.Deflate([]byte("hello hello hello"), 5)
	f.Add(z)
	f.Add([]byte{})
	f.Add([]byte{0x78, 0x9c})
	f.Add([]byte{0x78, 0x01, 0x01, 0x00, 0x00, 0xff, 0xff, 0x00, 0x00, 0x00, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := client.Inflate(b)
		if err != nil {
			if out != nil {
				t.Fatalf("Inflate returned %d bytes with error %v", len(out), err)
			}
			return
		}
		if len(out) > client.MaxInflatedBody {
			t.Fatalf("Inflate returned %d bytes", len(out))
		}
		if len(out) > 1<<20 {
			return // a bomb: re-deflating megabytes would only slow the fuzzer down
		}
		z, err := client.Deflate(out, 1)
		if err != nil {
			t.Fatal(err)
		}
		back, err := client.Inflate(z)
		if err != nil || !bytes.Equal(back, out) {
			t.Fatalf("re-deflated body does not round trip: %v", err)
		}
	})
}

package client_test

import (
	"bytes"
	"errors"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"
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
// panic, a converted message keeps the record's position, and DecodeMessages (the pull path,
// no property map) yields the same messages as FromStored of each decoded record.
func FuzzFromStored(f *testing.F) {
	fuzzSeedRecords(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		msgs, decodeErr := message.DecodeAll(b)
		var want []*client.MessageExt
		var convErr error
		for _, s := range msgs {
			m, err := client.FromStored(s, "b")
			if err != nil {
				if s.SysFlag&message.FlagCompressed == 0 {
					t.Fatalf("FromStored of an uncompressed record failed: %v", err)
				}
				convErr = err
				break
			}
			if m.Topic != s.Topic || m.QueueOffset != s.QueueOffset || m.QueueID != s.QueueID || m.BrokerName != "b" {
				t.Fatalf("FromStored lost the position: %+v from %+v", m, s)
			}
			if m.MsgID == "" && s.Properties[client.PropertyUniqKey] == "" {
				t.Fatalf("no message id for %+v", s)
			}
			props := m.Properties()
			for _, k := range []string{client.PropertyTags, client.PropertyKeys, client.PropertyDelayLevel} {
				if _, ok := props[k]; ok || m.Property(k) != "" {
					t.Fatalf("property %s left in %v", k, props)
				}
			}
			_ = m.String()
			want = append(want, m)
		}
		got, err := client.DecodeMessages(b, "b")
		if (err == nil) != (decodeErr == nil && convErr == nil) {
			t.Fatalf("DecodeMessages error %v; DecodeAll %v, FromStored %v", err, decodeErr, convErr)
		}
		if err != nil && !errors.Is(err, client.ErrBadResponse) {
			t.Fatalf("DecodeMessages error %v does not wrap ErrBadResponse", err)
		}
		if len(got) != len(want) {
			t.Fatalf("DecodeMessages gave %d messages, FromStored %d", len(got), len(want))
		}
		for i := range got {
			sameMessage(t, got[i], want[i])
		}
	})
}

// sameMessage fails unless got and want carry the same fields and properties.
func sameMessage(t *testing.T, got, want *client.MessageExt) {
	t.Helper()
	g, w := *got, *want
	if !maps.Equal(g.Properties(), w.Properties()) {
		t.Fatalf("properties %v, want %v", g.Properties(), w.Properties())
	}
	if !slices.Equal(g.Keys, w.Keys) || !bytes.Equal(g.Body, w.Body) {
		t.Fatalf("keys %q body %q, want %q %q", g.Keys, g.Body, w.Keys, w.Body)
	}
	g.Keys, w.Keys, g.Body, w.Body = nil, nil, nil, nil
	g.Message.Properties, w.Message.Properties = nil, nil
	if g.String() != w.String() || g.MsgID != w.MsgID || g.OffsetMsgID != w.OffsetMsgID || g.Tags != w.Tags ||
		g.DelayLevel != w.DelayLevel || g.Flag != w.Flag || g.BornHost != w.BornHost || g.StoreHost != w.StoreHost ||
		!g.BornTimestamp.Equal(w.BornTimestamp) || !g.StoreTimestamp.Equal(w.StoreTimestamp) ||
		g.SysFlag != w.SysFlag || g.CommitLogOffset != w.CommitLogOffset || g.ReconsumeTimes != w.ReconsumeTimes ||
		g.BodyCRC != w.BodyCRC || g.StoreSize != w.StoreSize || g.PreparedTransactionOffset != w.PreparedTransactionOffset {
		t.Fatalf("message\n%+v\nwant\n%+v", g, w)
	}
}

// FuzzReceivedProperty stores an arbitrary property string in a record and reads it back as a
// received message: Property (no map) must answer exactly what the map form
// (message.ParseProperties) holds for every key, Properties() must be that map without TAGS,
// KEYS and DELAY, and the fields must hold those three; WireProperties (sending the message
// again) must give back the whole map. No panic for any input.
func FuzzReceivedProperty(f *testing.F) {
	f.Add("TAGS\x01a\x02KEYS\x01k1 k2\x02UNIQ_KEY\x01U1\x02user\x01v", "user")
	f.Add("a\x01b\x02a\x01c\x02\x02\x01x\x02y\x01\x02z", "a")
	f.Add("DELAY\x013\x02TAGS\x01\x02KEYS\x01  \x02k\x01v\x01w", "k")
	f.Add("", "TAGS")
	f.Fuzz(func(t *testing.T, props, key string) {
		if len(props) > message.MaxPropertiesLength {
			return
		}
		s := baseStored()
		s.PropertiesText = props
		b, err := message.Encode(nil, s)
		if err != nil {
			t.Fatalf("Encode: %v", err)
		}
		msgs, err := client.DecodeMessages(b, "b")
		if err != nil || len(msgs) != 1 {
			t.Fatalf("DecodeMessages = %d messages, %v", len(msgs), err)
		}
		m := msgs[0]
		all := message.ParseProperties(props)
		user := maps.Clone(all)
		for _, k := range []string{client.PropertyTags, client.PropertyKeys, client.PropertyDelayLevel} {
			delete(user, k)
		}
		for _, k := range append(slices.Collect(maps.Keys(all)), key) {
			if got := m.Property(k); got != user[k] {
				t.Fatalf("Property(%q) = %q, the map form has %q (properties %q)", k, got, user[k], props)
			}
		}
		if got := m.Properties(); !maps.Equal(got, user) {
			t.Fatalf("Properties() = %v, want %v", got, user)
		}
		delay, _ := strconv.Atoi(all[client.PropertyDelayLevel])
		if m.Tags != all[client.PropertyTags] || !slices.Equal(m.Keys, strings.Fields(all[client.PropertyKeys])) || m.DelayLevel != delay {
			t.Fatalf("tags %q keys %q delay %d from %v", m.Tags, m.Keys, m.DelayLevel, all)
		}
		if u := all[client.PropertyUniqKey]; u != "" && m.MsgID != u || u == "" && m.MsgID != m.OffsetMsgID {
			t.Fatalf("MsgID %q from %v", m.MsgID, all)
		}
		if m.HasProperties() != (props != "") {
			t.Fatalf("HasProperties() = %v for %q", m.HasProperties(), props)
		}
		wire := m.WireProperties()
		want := maps.Clone(user)
		if m.Tags != "" {
			want[client.PropertyTags] = m.Tags
		}
		if len(m.Keys) > 0 {
			want[client.PropertyKeys] = strings.Join(m.Keys, " ")
		}
		if m.DelayLevel > 0 {
			want[client.PropertyDelayLevel] = strconv.Itoa(m.DelayLevel)
		}
		if !maps.Equal(wire, want) {
			t.Fatalf("WireProperties() = %v, want %v", wire, want)
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

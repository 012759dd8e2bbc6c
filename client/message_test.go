package client_test

import (
	"bytes"
	"compress/zlib"
	"errors"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/skiffmq/skiff/client"
	"github.com/skiffmq/skiff/internal/message"
)

func TestWirePropertiesMergesFields(t *testing.T) {
	m := client.NewMessage("T", []byte("b")).
		WithTags("TagA").
		WithKeys("k1", "k2").
		WithDelayLevel(3).
		WithProperty("user", "v").
		WithShardingKey("shard")
	got := m.WireProperties()
	want := map[string]string{
		client.PropertyTags:        "TagA",
		client.PropertyKeys:        "k1 k2",
		client.PropertyDelayLevel:  "3",
		"user":                     "v",
		client.PropertyShardingKey: "shard",
	}
	if !maps.Equal(got, want) {
		t.Fatalf("WireProperties() = %v, want %v", got, want)
	}
	// The result is a copy: changing it leaves the message alone.
	got["user"] = "changed"
	got["extra"] = "x"
	if m.Properties["user"] != "v" || m.Properties["extra"] != "" {
		t.Fatalf("WireProperties returned the message's own map: %v", m.Properties)
	}
	if m.ShardingKey() != "shard" || m.Property("user") != "v" || m.Property("absent") != "" {
		t.Fatalf("accessors: sharding %q user %q", m.ShardingKey(), m.Property("user"))
	}
}

func TestWirePropertiesEmptyFieldsAddNothing(t *testing.T) {
	m := &client.Message{Topic: "T", Body: []byte("b")}
	if got := m.WireProperties(); len(got) != 0 {
		t.Fatalf("WireProperties() of a bare message = %v, want empty", got)
	}
	// Fields win over the same names given as user properties; unset fields keep them.
	m = &client.Message{Topic: "T", Body: []byte("b"), Tags: "FromField",
		Properties: map[string]string{client.PropertyTags: "FromProps", client.PropertyKeys: "pk"}}
	got := m.WireProperties()
	if got[client.PropertyTags] != "FromField" || got[client.PropertyKeys] != "pk" {
		t.Fatalf("WireProperties() = %v", got)
	}
	if _, ok := got[client.PropertyDelayLevel]; ok {
		t.Fatalf("DELAY set for delay level 0: %v", got)
	}
}

func TestValidate(t *testing.T) {
	long := strings.Repeat("t", message.MaxTopicLength+1)
	cases := []struct {
		name    string
		m       *client.Message
		max     int
		mention string // the error names this
	}{
		{"nil", nil, 0, "nil message"},
		{"empty topic", &client.Message{Body: []byte("x")}, 0, "empty topic"},
		{"bad character", &client.Message{Topic: "a b", Body: []byte("x")}, 0, `"a b"`},
		{"slash", &client.Message{Topic: "a/b", Body: []byte("x")}, 0, `'/'`},
		{"too long", &client.Message{Topic: long, Body: []byte("x")}, 0, long},
		{"empty body", &client.Message{Topic: "T", Body: nil}, 0, `"T"`},
		{"body over limit", &client.Message{Topic: "T", Body: make([]byte, 11)}, 10, "11 bytes"},
		{"negative delay", &client.Message{Topic: "T", Body: []byte("x"), DelayLevel: -2}, 0, "-2"},
		{"0x01 in key", (&client.Message{Topic: "T", Body: []byte("x")}).WithProperty("k\x01", "v"), 0, `"k\x01"`},
		{"0x02 in key", (&client.Message{Topic: "T", Body: []byte("x")}).WithProperty("k\x02", "v"), 0, `"k\x02"`},
		{"0x01 in value", (&client.Message{Topic: "T", Body: []byte("x")}).WithProperty("key1", "a\x01b"), 0, `"key1"`},
		{"0x02 in value", (&client.Message{Topic: "T", Body: []byte("x")}).WithProperty("key2", "a\x02b"), 0, `"key2"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.m.Validate(c.max)
			if !errors.Is(err, client.ErrInvalidArgument) {
				t.Fatalf("Validate = %v, want ErrInvalidArgument", err)
			}
			if !strings.Contains(err.Error(), c.mention) {
				t.Fatalf("Validate error %q does not name %q", err, c.mention)
			}
		})
	}
}

func TestValidateAccepts(t *testing.T) {
	ok := []*client.Message{
		{Topic: "T", Body: []byte("x")},
		{Topic: "a-Z_0|9%", Body: []byte("x"), DelayLevel: 18},
		{Topic: strings.Repeat("t", message.MaxTopicLength), Body: make([]byte, 10)},
		(&client.Message{Topic: "T", Body: []byte("x")}).WithTags("t").WithKeys("a", "b").WithProperty("k", "v with spaces"),
	}
	for _, m := range ok {
		if err := m.Validate(10); err != nil {
			t.Errorf("Validate(%q) = %v, want nil", m.Topic, err)
		}
	}
	// maxBody <= 0 means no limit.
	if err := (&client.Message{Topic: "T", Body: make([]byte, 1<<20)}).Validate(0); err != nil {
		t.Errorf("Validate(0) of a 1 MiB body = %v", err)
	}
}

func TestValidateTopic(t *testing.T) {
	for _, ok := range []string{"T", "TopicTest", "%RETRY%g", "a|b", "x-y_z", "0", strings.Repeat("a", 127)} {
		if err := client.ValidateTopic(ok); err != nil {
			t.Errorf("ValidateTopic(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", " ", "a.b", "a b", "ü", "a@b", "a\x00", "a/b", "a:b", strings.Repeat("a", 128)} {
		err := client.ValidateTopic(bad)
		if !errors.Is(err, client.ErrInvalidArgument) {
			t.Errorf("ValidateTopic(%q) = %v, want ErrInvalidArgument", bad, err)
		}
	}
}

// stored builds a record as a broker stores it, encodes it and decodes it again.
func stored(t testing.TB, m *message.Message) *message.Message {
	t.Helper()
	b, err := message.Encode(nil, m)
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	d, err := message.Decode(b, true)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	return d
}

func baseStored() *message.Message {
	return &message.Message{
		Topic: "TopicA", QueueID: 3, Flag: 7, QueueOffset: 42, CommitLogOffset: 123456,
		BornTimestamp: 1700000000123, BornHost: netip.MustParseAddrPort("10.0.0.1:5555"),
		StoreTimestamp: 1700000000456, StoreHost: netip.MustParseAddrPort("10.0.0.2:10911"),
		ReconsumeTimes: 2, PreparedTransactionOffset: 9,
		Body: []byte("hello"),
	}
}

func TestFromStoredSplitsProperties(t *testing.T) {
	s := baseStored()
	s.Properties = map[string]string{
		client.PropertyTags: "TagA", client.PropertyKeys: "k1  k2 ", client.PropertyDelayLevel: "4",
		client.PropertyUniqKey: "UNIQ123", "user": "v",
	}
	d := stored(t, s)
	m, err := client.FromStored(d, "broker-a")
	if err != nil {
		t.Fatal(err)
	}
	if m.Topic != "TopicA" || string(m.Body) != "hello" || m.Flag != 7 {
		t.Fatalf("topic/body/flag: %q %q %d", m.Topic, m.Body, m.Flag)
	}
	if m.Tags != "TagA" || !slices.Equal(m.Keys, []string{"k1", "k2"}) || m.DelayLevel != 4 {
		t.Fatalf("tags %q keys %q delay %d", m.Tags, m.Keys, m.DelayLevel)
	}
	wantProps := map[string]string{client.PropertyUniqKey: "UNIQ123", "user": "v"}
	if !maps.Equal(m.Properties(), wantProps) {
		t.Fatalf("properties = %v, want %v", m.Properties(), wantProps)
	}
	if m.MsgID != "UNIQ123" {
		t.Fatalf("MsgID = %q, want the UNIQ_KEY", m.MsgID)
	}
	if want := message.OffsetMsgID(s.StoreHost, s.CommitLogOffset); m.OffsetMsgID != want {
		t.Fatalf("OffsetMsgID = %q, want %q", m.OffsetMsgID, want)
	}
	if m.BrokerName != "broker-a" || m.QueueID != 3 || m.QueueOffset != 42 || m.CommitLogOffset != 123456 {
		t.Fatalf("position: %s/%d offset %d cl %d", m.BrokerName, m.QueueID, m.QueueOffset, m.CommitLogOffset)
	}
	if q := m.Queue(); q != (client.MessageQueue{Topic: "TopicA", BrokerName: "broker-a", QueueID: 3}) {
		t.Fatalf("Queue() = %v", q)
	}
	if !m.BornTimestamp.Equal(time.UnixMilli(1700000000123)) || !m.StoreTimestamp.Equal(time.UnixMilli(1700000000456)) {
		t.Fatalf("timestamps: %v %v", m.BornTimestamp, m.StoreTimestamp)
	}
	if m.BornHost != "10.0.0.1:5555" || m.StoreHost != "10.0.0.2:10911" {
		t.Fatalf("hosts: %q %q", m.BornHost, m.StoreHost)
	}
	if m.ReconsumeTimes != 2 || m.PreparedTransactionOffset != 9 || m.StoreSize != d.StoreSize || m.BodyCRC != d.BodyCRC {
		t.Fatalf("reconsume %d prepared %d size %d crc %d", m.ReconsumeTimes, m.PreparedTransactionOffset, m.StoreSize, m.BodyCRC)
	}
	// The stored record's properties are not modified.
	if d.Properties[client.PropertyTags] != "TagA" {
		t.Fatalf("FromStored changed the record's properties: %v", d.Properties)
	}
	if s := m.String(); !strings.Contains(s, "UNIQ123") || !strings.Contains(s, "broker-a") {
		t.Fatalf("String() = %q", s)
	}
}

func TestFromStoredWithoutUniqKeyUsesOffsetID(t *testing.T) {
	d := stored(t, baseStored())
	m, err := client.FromStored(d, "b")
	if err != nil {
		t.Fatal(err)
	}
	want := message.OffsetMsgID(netip.MustParseAddrPort("10.0.0.2:10911"), 123456)
	if m.MsgID != want || m.OffsetMsgID != want {
		t.Fatalf("MsgID %q OffsetMsgID %q, want both %q", m.MsgID, m.OffsetMsgID, want)
	}
	if p := m.Properties(); p == nil || len(p) != 0 {
		t.Fatalf("properties = %#v, want an empty non-nil map", p)
	}
	if m.Tags != "" || len(m.Keys) != 0 || m.DelayLevel != 0 {
		t.Fatalf("tags %q keys %q delay %d", m.Tags, m.Keys, m.DelayLevel)
	}
	// A record built in memory with no properties at all works too.
	m, err = client.FromStored(&message.Message{Topic: "T"}, "")
	if err != nil || m.Properties() == nil || m.BornHost != "" || m.StoreHost != "" {
		t.Fatalf("FromStored(bare) = %+v, %v", m, err)
	}
}

func TestFromStoredInflatesCompressedBody(t *testing.T) {
	body := bytes.Repeat([]byte("compress me please "), 500)
	z, err := client.Deflate(body, 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(z) >= len(body) {
		t.Fatalf("Deflate did not shrink a repetitive body: %d >= %d", len(z), len(body))
	}
	s := baseStored()
	s.Body = z
	s.SysFlag = message.FlagCompressed
	m, err := client.FromStored(stored(t, s), "b")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(m.Body, body) {
		t.Fatalf("body not inflated: %d bytes", len(m.Body))
	}
	if m.SysFlag&message.FlagCompressed == 0 {
		t.Fatalf("SysFlag %#x lost the compressed bit", m.SysFlag)
	}
	// Without the flag the body is taken as is.
	s = baseStored()
	s.Body = z
	m, err = client.FromStored(stored(t, s), "b")
	if err != nil || !bytes.Equal(m.Body, z) {
		t.Fatalf("uncompressed record: body changed or err %v", err)
	}
}

func TestFromStoredCorruptCompressedBody(t *testing.T) {
	z, _ := client.Deflate([]byte(strings.Repeat("abc", 100)), 5)
	for name, body := range map[string][]byte{
		"not zlib":  []byte("this is not zlib"),
		"truncated": z[:len(z)/2],
		"bad crc":   append(slices.Clone(z[:len(z)-1]), z[len(z)-1]^0xff),
	} {
		t.Run(name, func(t *testing.T) {
			s := baseStored()
			s.Body = body
			s.SysFlag = message.FlagCompressed
			s.Properties = map[string]string{client.PropertyUniqKey: "BADBODY"}
			m, err := client.FromStored(stored(t, s), "b")
			if !errors.Is(err, client.ErrBadResponse) || m != nil {
				t.Fatalf("FromStored = %v, %v; want ErrBadResponse", m, err)
			}
			if !strings.Contains(err.Error(), "BADBODY") || !strings.Contains(err.Error(), "TopicA") {
				t.Fatalf("error %q does not name the message and topic", err)
			}
		})
	}
}

func TestFromStoredIPv6Hosts(t *testing.T) {
	s := baseStored()
	s.BornHost = netip.MustParseAddrPort("[2001:db8::1]:1234")
	s.StoreHost = netip.MustParseAddrPort("[2001:db8::2]:10911")
	m, err := client.FromStored(stored(t, s), "b")
	if err != nil {
		t.Fatal(err)
	}
	if m.BornHost != "[2001:db8::1]:1234" || m.StoreHost != "[2001:db8::2]:10911" {
		t.Fatalf("hosts %q %q", m.BornHost, m.StoreHost)
	}
	if len(m.OffsetMsgID) != 56 {
		t.Fatalf("IPv6 offset id %q has %d characters, want 56", m.OffsetMsgID, len(m.OffsetMsgID))
	}
}

func TestInflateDeflateRoundTrip(t *testing.T) {
	bodies := [][]byte{
		{},
		[]byte("a"),
		bytes.Repeat([]byte{0}, 100000),
		[]byte(strings.Repeat("The quick brown fox. ", 1000)),
	}
	for _, b := range bodies {
		for _, level := range []int{1, 5, 9} {
			z, err := client.Deflate(b, level)
			if err != nil {
				t.Fatalf("Deflate(level %d): %v", level, err)
			}
			out, err := client.Inflate(z)
			if err != nil {
				t.Fatalf("Inflate: %v", err)
			}
			if !bytes.Equal(out, b) {
				t.Fatalf("round trip of %d bytes at level %d gave %d bytes", len(b), level, len(out))
			}
		}
	}
	if _, err := client.Deflate([]byte("x"), 42); err == nil {
		t.Fatal("Deflate at level 42 succeeded")
	}
	if _, err := client.Inflate(nil); err == nil {
		t.Fatal("Inflate(nil) succeeded")
	}
	if _, err := client.Inflate([]byte{0x78, 0x9c, 0xff}); err == nil {
		t.Fatal("Inflate of a broken stream succeeded")
	}
}

// zeros writes n zero bytes through a zlib writer without holding them in memory.
func zeros(t *testing.T, n int) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := zlib.NewWriterLevel(&buf, zlib.BestSpeed)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 1<<20)
	for n > 0 {
		k := min(n, len(chunk))
		if _, err := w.Write(chunk[:k]); err != nil {
			t.Fatal(err)
		}
		n -= k
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestInflateBoundSmall checks the bound logic with a 1 MiB limit, fast enough for -race.
func TestInflateBoundSmall(t *testing.T) {
	const limit = 1 << 20
	out, err := client.InflateWithLimit(zeros(t, limit), limit)
	if err != nil || len(out) != limit {
		t.Fatalf("inflate of exactly the limit: %d bytes, %v", len(out), err)
	}
	out, err = client.InflateWithLimit(zeros(t, limit+1), limit)
	if err == nil || out != nil || !strings.Contains(err.Error(), "exceeds 1048576 bytes") {
		t.Fatalf("inflate of limit+1 bytes = %d bytes, %v; want an error naming the bound", len(out), err)
	}
}

// TestInflateBound checks the real 64 MiB bound. make unit runs it once without -race, under
// which it takes about 20 s (0.7 s without).
func TestInflateBound(t *testing.T) {
	if raceEnabled {
		t.Skip("inflating 64 MiB is too slow under the race detector; make unit runs this test without -race")
	}
	out, err := client.Inflate(zeros(t, client.MaxInflatedBody))
	if err != nil || len(out) != client.MaxInflatedBody {
		t.Fatalf("Inflate of exactly MaxInflatedBody bytes: %d bytes, %v", len(out), err)
	}
	out, err = client.Inflate(zeros(t, client.MaxInflatedBody+1))
	if err == nil || out != nil {
		t.Fatalf("Inflate of MaxInflatedBody+1 bytes = %d bytes, %v; want an error", len(out), err)
	}
	if !strings.Contains(err.Error(), "exceeds") {
		t.Fatalf("error %q does not say the bound was exceeded", err)
	}
}

func TestStatusStrings(t *testing.T) {
	for s, want := range map[client.SendStatus]string{
		client.SendOK: "SEND_OK", client.SendFlushDiskTimeout: "FLUSH_DISK_TIMEOUT",
		client.SendFlushSlaveTimeout: "FLUSH_SLAVE_TIMEOUT", client.SendSlaveNotAvailable: "SLAVE_NOT_AVAILABLE",
		client.SendStatus(9): "SendStatus(9)",
	} {
		if s.String() != want {
			t.Errorf("%d.String() = %q, want %q", int(s), s.String(), want)
		}
	}
	for s, want := range map[client.PullStatus]string{
		client.PullFound: "FOUND", client.PullNoNewMsg: "NO_NEW_MSG", client.PullNoMatchedMsg: "NO_MATCHED_MSG",
		client.PullOffsetIllegal: "OFFSET_ILLEGAL", client.PullStatus(7): "PullStatus(7)",
	} {
		if s.String() != want {
			t.Errorf("%d.String() = %q, want %q", int(s), s.String(), want)
		}
	}
	if q := (client.MessageQueue{Topic: "T", BrokerName: "b", QueueID: 2}).String(); q != "T@b/2" {
		t.Errorf("MessageQueue.String() = %q", q)
	}
}

// Tags and keys travel as the TAGS and KEYS properties, so the separator bytes cannot be in them
// either: Validate must refuse them, or the wire encoding drops the property.
func TestValidateSeparatorInTagsAndKeys(t *testing.T) {
	for name, m := range map[string]*client.Message{
		"tags": client.NewMessage("T", []byte("x")).WithTags("a\x02b"),
		"keys": client.NewMessage("T", []byte("x")).WithKeys("k1", "k\x022"),
	} {
		t.Run(name, func(t *testing.T) {
			err := m.Validate(0)
			if errors.Is(err, client.ErrInvalidArgument) {
				return
			}
			wire := message.ParseProperties(message.FormatProperties(m.WireProperties()))
			t.Fatalf("Validate = %v for a %s value with 0x02; the wire properties would lose it: %q", err, name, wire)
		})
	}
}

// pullBody is a pull response body of n records of size-byte bodies with the properties a
// producer sets (UNIQ_KEY, TAGS, KEYS, WAIT), all from one store host.
func pullBody(tb testing.TB, n, size int) []byte {
	tb.Helper()
	var body []byte
	for i := range n {
		s := &message.Message{Topic: "BenchTopic", QueueID: 3, QueueOffset: int64(1000 + i), CommitLogOffset: int64(i) * 1200,
			BornTimestamp: 1700000000123 + int64(i), BornHost: netip.MustParseAddrPort("10.0.0.7:53211"),
			StoreTimestamp: 1700000000456 + int64(i), StoreHost: netip.MustParseAddrPort("10.0.0.1:10911"),
			Body: bytes.Repeat([]byte{'x'}, size),
			Properties: map[string]string{client.PropertyUniqKey: message.NewUniqKey(), client.PropertyTags: "TagA",
				client.PropertyKeys: "order-" + strconv.Itoa(i), "WAIT": "true"}}
		var err error
		if body, err = message.Encode(body, s); err != nil {
			tb.Fatal(err)
		}
	}
	return body
}

func TestDecodeMessagesMatchesFromStored(t *testing.T) {
	body := pullBody(t, 5, 100)
	v6 := baseStored()
	v6.StoreHost = netip.MustParseAddrPort("[2001:db8::2]:10911")
	v6.Properties = map[string]string{client.PropertyKeys: " a  b ", client.PropertyDelayLevel: "3", "u": "1"}
	z, _ := client.Deflate(bytes.Repeat([]byte("zz"), 300), 5)
	comp := baseStored()
	comp.Body, comp.SysFlag = z, message.FlagCompressed
	comp.Topic = "Other"
	for _, s := range []*message.Message{v6, comp} {
		var err error
		if body, err = message.Encode(body, s); err != nil {
			t.Fatal(err)
		}
	}
	got, err := client.DecodeMessages(body, "broker-a")
	if err != nil {
		t.Fatal(err)
	}
	stored, err := message.DecodeAll(body)
	if err != nil || len(got) != len(stored) || len(got) != 7 {
		t.Fatalf("DecodeMessages gave %d messages, DecodeAll %d (%v)", len(got), len(stored), err)
	}
	for i, s := range stored {
		want, err := client.FromStored(s, "broker-a")
		if err != nil {
			t.Fatal(err)
		}
		sameMessage(t, got[i], want)
	}
	if m := got[5]; !slices.Equal(m.Keys, []string{"a", "b"}) || m.DelayLevel != 3 || m.Property("u") != "1" || len(m.OffsetMsgID) != 56 {
		t.Fatalf("IPv6 record: keys %q delay %d u %q offset id %q", m.Keys, m.DelayLevel, m.Property("u"), m.OffsetMsgID)
	}
	if m := got[6]; !bytes.Equal(m.Body, bytes.Repeat([]byte("zz"), 300)) || m.Topic != "Other" {
		t.Fatalf("compressed record: topic %q body %q", m.Topic, m.Body)
	}
	// A message's Keys cannot be appended into its neighbour's.
	k := append(got[0].Keys, "extra")
	if got[1].Keys[0] != "order-1" || k[0] != "order-0" {
		t.Fatalf("appending to Keys changed another message: %q", got[1].Keys)
	}
	// A corrupt record ends the decode with ErrBadResponse after the good ones.
	cut := append(slices.Clone(body[:len(pullBody(t, 1, 100))]), 0, 0, 0, 9)
	msgs, err := client.DecodeMessages(cut, "b")
	if !errors.Is(err, client.ErrBadResponse) || len(msgs) != 1 {
		t.Fatalf("truncated body: %d messages, %v", len(msgs), err)
	}
}

func TestReceivedProperties(t *testing.T) {
	s := baseStored()
	s.Properties = map[string]string{client.PropertyTags: "TagA", client.PropertyKeys: "k1 k2", client.PropertyUniqKey: "U1",
		client.PropertyRetryTopic: "Real", "user": "v"}
	b, _ := message.Encode(nil, s)
	msgs, err := client.DecodeMessages(b, "b")
	if err != nil {
		t.Fatal(err)
	}
	m := msgs[0]
	if m.Message.Properties != nil {
		t.Fatalf("a received message built a property map: %v", m.Message.Properties)
	}
	if m.Property("user") != "v" || m.Property(client.PropertyUniqKey) != "U1" || m.Property(client.PropertyTags) != "" || m.Property("absent") != "" {
		t.Fatalf("Property: user %q uniq %q tags %q", m.Property("user"), m.Property(client.PropertyUniqKey), m.Property(client.PropertyTags))
	}
	want := map[string]string{client.PropertyUniqKey: "U1", client.PropertyRetryTopic: "Real", "user": "v"}
	if p := m.Properties(); !maps.Equal(p, want) {
		t.Fatalf("Properties() = %v, want %v", p, want)
	}
	// Properties() is a copy; WithProperty sets on top of the received ones.
	m.Properties()["user"] = "changed"
	m.WithProperty("user", "w").WithProperty("added", "a")
	want["user"], want["added"] = "w", "a"
	if p := m.Properties(); !maps.Equal(p, want) || m.Property("user") != "w" {
		t.Fatalf("after WithProperty: %v, user %q", p, m.Property("user"))
	}
	// CONSUME_START_TIME comes from ConsumeStartTime.
	if m.Property(client.PropertyConsumeStartTime) != "" {
		t.Fatal("CONSUME_START_TIME before the consumer set it")
	}
	m.ConsumeStartTime = time.UnixMilli(1700000001234)
	want[client.PropertyConsumeStartTime] = "1700000001234"
	if p := m.Properties(); m.Property(client.PropertyConsumeStartTime) != "1700000001234" || !maps.Equal(p, want) {
		t.Fatalf("CONSUME_START_TIME %q, Properties() %v", m.Property(client.PropertyConsumeStartTime), p)
	}
	// Sending the received message again sends its properties (the producer's map path).
	fwd := &m.Message
	if !fwd.HasProperties() || (&client.Message{Topic: "T"}).HasProperties() {
		t.Fatal("HasProperties")
	}
	wire := fwd.WireProperties()
	if wire[client.PropertyUniqKey] != "U1" || wire["user"] != "w" || wire[client.PropertyTags] != "TagA" || wire[client.PropertyKeys] != "k1 k2" || wire[client.PropertyRetryTopic] != "Real" {
		t.Fatalf("WireProperties of a received message = %v", wire)
	}
	if fwd.ShardingKey() != "" || m.ShardingKey() != "" {
		t.Fatal("ShardingKey of a message without one")
	}
}

// TestDecodeMessagesAllocations holds the pull path to a constant number of allocations per
// body, whatever the number of messages in it (before: about 8 per message).
func TestDecodeMessagesAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	for _, n := range []int{1, 32} {
		body := pullBody(t, n, 1024)
		allocs := testing.AllocsPerRun(20, func() {
			if msgs, err := client.DecodeMessages(body, "b"); err != nil || len(msgs) != n {
				t.Fatalf("%d messages, %v", len(msgs), err)
			}
		})
		if allocs > 12 {
			t.Fatalf("decoding %d messages took %.0f allocations, want at most 12 (not one or more per message)", n, allocs)
		}
	}
}

// BenchmarkDecodePull decodes a pull body of 32 records of 1 KiB as the pull consumer does.
func BenchmarkDecodePull(b *testing.B) {
	body := pullBody(b, 32, 1024)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		out, err := client.DecodeMessages(body, "broker-a")
		if err != nil {
			b.Fatal(err)
		}
		if len(out) != 32 || out[31].Tags != "TagA" {
			b.Fatal("bad decode")
		}
	}
}

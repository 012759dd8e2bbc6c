package producer

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/skiffmq/skiff/client"
	"github.com/skiffmq/skiff/internal/message"
	"github.com/skiffmq/skiff/internal/remoting"
	"github.com/skiffmq/skiff/internal/testutil"
)

const someNamesrv = "127.0.0.1:9876" // never dialled by these tests

func newProducer(t *testing.T, opts ...Option) *Producer {
	t.Helper()
	p, err := New(append([]Option{WithNameServers(someNamesrv), WithLogger(testutil.Logger(t))}, opts...)...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p
}

func TestNewValidatesOptions(t *testing.T) {
	cases := map[string][]Option{
		"empty group":        {WithGroup("")},
		"negative retries":   {WithRetries(-1)},
		"level 0":            {WithCompression(100, 0)},
		"level 10":           {WithCompression(1, 10)},
		"zero send timeout":  {WithSendTimeout(0)},
		"negative send time": {WithSendTimeout(-time.Second)},
	}
	for name, opts := range cases {
		_, err := New(append([]Option{WithNameServers(someNamesrv)}, opts...)...)
		if !errors.Is(err, client.ErrInvalidArgument) {
			t.Errorf("%s: New = %v, want ErrInvalidArgument", name, err)
		} else if !strings.HasPrefix(err.Error(), "producer: ") {
			t.Errorf("%s: error %q lacks the package prefix", name, err)
		}
	}
	// A threshold <= 0 turns compression off, so the level does not matter.
	if _, err := New(WithNameServers(someNamesrv), WithCompression(0, 42)); err != nil {
		t.Errorf("compression off with level 42: %v", err)
	}
	if _, err := New(WithNameServers(someNamesrv), WithRetries(0)); err != nil {
		t.Errorf("zero retries: %v", err)
	}
}

func TestNewNeedsNameServer(t *testing.T) {
	t.Setenv(client.EnvNameServer, "")
	if _, err := New(); !errors.Is(err, client.ErrNoNameServer) {
		t.Fatalf("New without name servers = %v, want ErrNoNameServer", err)
	}
	if _, err := New(WithNameServers("not-an-address")); !errors.Is(err, client.ErrNoNameServer) {
		t.Fatalf("New with a bad name server = %v, want ErrNoNameServer", err)
	}
	t.Setenv(client.EnvNameServer, someNamesrv)
	p, err := New()
	if err != nil {
		t.Fatalf("New with NAMESRV_ADDR: %v", err)
	}
	if p.Group() != "DEFAULT_PRODUCER" || p.ClientID() == "" {
		t.Fatalf("defaults: group %q id %q", p.Group(), p.ClientID())
	}
	if p, _ := New(WithInstanceName("me"), WithGroup("pg")); !strings.HasSuffix(p.ClientID(), "@me") || p.Group() != "pg" {
		t.Fatalf("instance name / group not applied: %q %q", p.ClientID(), p.Group())
	}
}

func TestLifecycleErrors(t *testing.T) {
	p := newProducer(t)
	ctx := context.Background()
	msg := client.NewMessage("T", []byte("x"))
	cb := func(*client.SendResult, error) { t.Error("callback called") }
	calls := map[string]func() error{
		"Send":           func() error { _, err := p.Send(ctx, msg); return err },
		"SendBatch":      func() error { _, err := p.SendBatch(ctx, msg); return err },
		"SendToQueue":    func() error { _, err := p.SendToQueue(ctx, msg, client.MessageQueue{Topic: "T"}); return err },
		"SendAsync":      func() error { return p.SendAsync(ctx, msg, cb) },
		"SendBatchAsync": func() error { return p.SendBatchAsync(ctx, cb, msg) },
		"SendOneway":     func() error { return p.SendOneway(ctx, msg) },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, client.ErrNotStarted) {
			t.Errorf("%s before Start = %v, want ErrNotStarted", name, err)
		}
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); !errors.Is(err, client.ErrInvalidArgument) {
		t.Errorf("second Start = %v, want ErrInvalidArgument", err)
	}
	if err := p.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := p.Shutdown(ctx); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, client.ErrClosed) {
			t.Errorf("%s after Shutdown = %v, want ErrClosed", name, err)
		}
	}
	if err := p.Start(); err == nil {
		t.Error("Start after Shutdown succeeded")
	}
	// A producer shut down without being started is closed too.
	q := newProducer(t)
	if err := q.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Send(ctx, msg); !errors.Is(err, client.ErrClosed) {
		t.Errorf("Send after Shutdown of an unstarted producer = %v, want ErrClosed", err)
	}
}

func TestPrepare(t *testing.T) {
	p := newProducer(t, WithCompression(100, 5))
	msg := client.NewMessage("T", []byte("small")).WithTags("TagA").WithKeys("k1", "k2").WithProperty("u", "v")
	msg.Flag = 5
	pr, err := p.prepare(msg)
	if err != nil {
		t.Fatal(err)
	}
	props := message.ParseProperties(pr.props)
	if len(pr.uniq) != 32 || props[client.PropertyUniqKey] != pr.uniq {
		t.Fatalf("uniq %q, UNIQ_KEY property %q", pr.uniq, props[client.PropertyUniqKey])
	}
	want := map[string]string{client.PropertyUniqKey: pr.uniq, client.PropertyTags: "TagA", client.PropertyKeys: "k1 k2", "u": "v"}
	if !maps.Equal(props, want) {
		t.Fatalf("wire properties %v, want %v", props, want)
	}
	if pr.sysFlag != 0 || !bytes.Equal(pr.body, msg.Body) || pr.flag != 5 || pr.topic != "T" || pr.batch || pr.count != 1 {
		t.Fatalf("prepared = %+v", pr)
	}
	if _, ok := msg.Properties[client.PropertyUniqKey]; ok {
		t.Fatal("prepare wrote UNIQ_KEY into the caller's message")
	}
	pr2, _ := p.prepare(msg)
	if pr2.uniq == pr.uniq {
		t.Fatal("two sends of one message got the same UNIQ_KEY")
	}

	// A UNIQ_KEY given by the caller is kept.
	own := client.NewMessage("T", []byte("x")).WithProperty(client.PropertyUniqKey, "MINE")
	if pr, err := p.prepare(own); err != nil || pr.uniq != "MINE" {
		t.Fatalf("caller's UNIQ_KEY: %+v, %v", pr, err)
	}

	// Transaction half messages carry the prepared flag.
	half := client.NewMessage("T", []byte("x")).WithProperty(client.PropertyTransactionPrep, "true")
	if pr, err := p.prepare(half); err != nil || pr.sysFlag&message.TransactionMask != message.TransactionPrepared {
		t.Fatalf("half message sysFlag %#x, %v", pr.sysFlag, err)
	}

	// Invalid messages are refused with the producer prefix.
	for _, bad := range []*client.Message{nil, client.NewMessage("", []byte("x")), client.NewMessage("T", nil),
		client.NewMessage("T", []byte("x")).WithProperty("k", "a\x02b")} {
		if _, err := p.prepare(bad); !errors.Is(err, client.ErrInvalidArgument) || !strings.HasPrefix(err.Error(), "producer: ") {
			t.Errorf("prepare(%v) = %v, want ErrInvalidArgument", bad, err)
		}
	}
	huge := client.NewMessage("T", []byte("x")).WithProperty("big", strings.Repeat("v", message.MaxPropertiesLength))
	if _, err := p.prepare(huge); !errors.Is(err, client.ErrInvalidArgument) || !strings.Contains(err.Error(), "properties") {
		t.Errorf("prepare with oversized properties = %v, want ErrInvalidArgument", err)
	}
}

func TestPrepareCompression(t *testing.T) {
	p := newProducer(t, WithCompression(100, 5), WithMaxMessageSize(1<<20))
	body := bytes.Repeat([]byte("abcd"), 25) // exactly the threshold
	pr, err := p.prepare(client.NewMessage("T", body))
	if err != nil {
		t.Fatal(err)
	}
	if pr.sysFlag&message.FlagCompressed == 0 || len(pr.body) >= len(body) {
		t.Fatalf("body at the threshold not compressed: flag %#x, %d bytes", pr.sysFlag, len(pr.body))
	}
	if out, err := client.Inflate(pr.body); err != nil || !bytes.Equal(out, body) {
		t.Fatalf("compressed body does not inflate back: %v", err)
	}
	below := body[:99]
	if pr, _ := p.prepare(client.NewMessage("T", below)); pr.sysFlag&message.FlagCompressed != 0 || !bytes.Equal(pr.body, below) {
		t.Fatalf("body under the threshold compressed")
	}
	// Compression that does not shrink the body is not used.
	random := make([]byte, 4096)
	_, _ = rand.Read(random)
	if pr, _ := p.prepare(client.NewMessage("T", random)); pr.sysFlag&message.FlagCompressed != 0 || !bytes.Equal(pr.body, random) {
		t.Fatalf("incompressible body sent compressed")
	}
	// Off.
	off := newProducer(t, WithCompression(0, 0))
	if pr, _ := off.prepare(client.NewMessage("T", bytes.Repeat([]byte("a"), 100000))); pr.sysFlag&message.FlagCompressed != 0 {
		t.Fatal("compression off, body compressed")
	}
	// The size limit applies to the uncompressed body.
	small := newProducer(t, WithMaxMessageSize(1000))
	if _, err := small.prepare(client.NewMessage("T", bytes.Repeat([]byte("a"), 1001))); !errors.Is(err, client.ErrInvalidArgument) {
		t.Fatalf("body over WithMaxMessageSize = %v", err)
	}
}

func TestPrepareBatch(t *testing.T) {
	p := newProducer(t, WithCompression(10, 5))
	msgs := []*client.Message{
		client.NewMessage("T", bytes.Repeat([]byte("a"), 200)).WithTags("A"),
		client.NewMessage("T", []byte("two")).WithKeys("k"),
		client.NewMessage("T", []byte("three")).WithProperty(client.PropertyUniqKey, "OWN"),
	}
	msgs[1].Flag = 3
	pr, err := p.prepareBatch(msgs)
	if err != nil {
		t.Fatal(err)
	}
	if !pr.batch || pr.count != 3 || pr.topic != "T" || pr.msg != msgs[0] || pr.sysFlag != 0 {
		t.Fatalf("prepared batch = %+v", pr)
	}
	uniqs := strings.Split(pr.uniq, ",")
	if len(uniqs) != 3 || len(uniqs[0]) != 32 || uniqs[2] != "OWN" {
		t.Fatalf("batch uniq = %q", pr.uniq)
	}
	entries, err := message.DecodeBatch(pr.body)
	if err != nil || len(entries) != 3 {
		t.Fatalf("DecodeBatch: %d entries, %v", len(entries), err)
	}
	for i, e := range entries {
		if !bytes.Equal(e.Body, msgs[i].Body) || e.Flag != msgs[i].Flag || e.Properties[client.PropertyUniqKey] != uniqs[i] {
			t.Errorf("entry %d = %+v", i, e)
		}
	}
	if entries[0].Properties[client.PropertyTags] != "A" || entries[1].Properties[client.PropertyKeys] != "k" {
		t.Errorf("entry properties: %v %v", entries[0].Properties, entries[1].Properties)
	}
	req := p.request(pr, 2).MaterializeExt()
	if req.Code != remoting.SendBatchMessage || req.ExtFields["m"] != "true" || req.ExtFields["e"] != "2" || req.ExtFields["b"] != "T" {
		t.Errorf("batch request code %d ext %v", req.Code, req.ExtFields)
	}
}

func TestPrepareBatchRefuses(t *testing.T) {
	p := newProducer(t, WithMaxMessageSize(1000))
	m := func(topic string, n int) *client.Message {
		return client.NewMessage(topic, bytes.Repeat([]byte("x"), n))
	}
	cases := map[string]struct {
		msgs    []*client.Message
		mention string
	}{
		"empty":        {nil, "empty batch"},
		"nil message":  {[]*client.Message{m("T", 1), nil}, "message 1 is nil"},
		"mixed topics": {[]*client.Message{m("T", 1), m("T", 1), m("U", 1)}, `"U"`},
		"delay level":  {[]*client.Message{m("T", 1), m("T", 1).WithDelayLevel(3)}, "delay level 3"},
		"invalid":      {[]*client.Message{m("T", 1), m("T", 0)}, "batch message 1"},
		"bad topic":    {[]*client.Message{m("a b", 1)}, `"a b"`},
		"oversize":     {[]*client.Message{m("T", 400), m("T", 400), m("T", 400)}, "split it"},
		"one too big":  {[]*client.Message{m("T", 1001)}, "1001"},
	}
	for name, c := range cases {
		_, err := p.prepareBatch(c.msgs)
		if !errors.Is(err, client.ErrInvalidArgument) {
			t.Errorf("%s: prepareBatch = %v, want ErrInvalidArgument", name, err)
			continue
		}
		if !strings.Contains(err.Error(), c.mention) {
			t.Errorf("%s: error %q does not mention %q", name, err, c.mention)
		}
	}
	// Just under the limit is fine: 2 x (400 + 22 + ~44 bytes of properties).
	if _, err := p.prepareBatch([]*client.Message{m("T", 400), m("T", 400)}); err != nil {
		t.Errorf("batch under the limit: %v", err)
	}
}

func TestRequestFields(t *testing.T) {
	p := newProducer(t, WithGroup("pg"), WithDefaultTopicQueueNums(8))
	pr, err := p.prepare(client.NewMessage("T", []byte("x")).WithTags("A"))
	if err != nil {
		t.Fatal(err)
	}
	req := p.request(pr, 3).MaterializeExt()
	e := req.ExtFields
	if req.Code != remoting.SendMessageV2 || e["a"] != "pg" || e["b"] != "T" || e["c"] != "TBW102" || e["d"] != "8" ||
		e["e"] != "3" || e["f"] != "0" || e["i"] != pr.props || e["m"] != "false" || !bytes.Equal(req.Body, []byte("x")) {
		t.Fatalf("request code %d ext %v", req.Code, e)
	}
	if ms, err := strconv.ParseInt(e["g"], 10, 64); err != nil || time.Since(time.UnixMilli(ms)) > time.Minute {
		t.Fatalf("born timestamp %q", e["g"])
	}
}

func TestRetryable(t *testing.T) {
	be := func(code int32) error {
		return fmt.Errorf("wrapped: %w", &client.BrokerError{Code: code})
	}
	for code, want := range map[int32]bool{
		remoting.SystemBusy: true, remoting.SystemError: true, remoting.TopicNotExist: true, remoting.NoPermission: true,
		remoting.ServiceNotAvailable: true, remoting.FlowControl: true,
		remoting.FlushDiskTimeout: false, remoting.MessageIllegal: false, 999: false,
	} {
		if got := retryable(be(code)); got != want {
			t.Errorf("retryable(code %d) = %v, want %v", code, got, want)
		}
	}
	for err, want := range map[error]bool{
		fmt.Errorf("x: %w", client.ErrTimeout): true, fmt.Errorf("x: %w", client.ErrConnect): true,
		fmt.Errorf("x: %w", client.ErrConnClosed): true, client.ErrClosed: false, errors.New("other"): false,
	} {
		if got := retryable(err); got != want {
			t.Errorf("retryable(%v) = %v, want %v", err, got, want)
		}
	}
}

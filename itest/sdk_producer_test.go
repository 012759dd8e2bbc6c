package itest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skiffmq/skiff/client"
	"github.com/skiffmq/skiff/client/consumer"
	"github.com/skiffmq/skiff/client/producer"
)

// TestSDKSendAndConsume: sync, async, one-way and batch sends of one producer are all consumed
// exactly once by a push consumer, with tags, keys and user properties intact.
func TestSDKSendAndConsume(t *testing.T) {
	c := sdkCluster(t, nil)
	createTopic(t, c, "SDKBasic", 4)
	p := startProducer(t, c, producer.WithGroup("pg-basic"))
	ctx := context.Background()
	const n = 200
	want := map[string]bool{}
	var wg sync.WaitGroup
	var asyncErr error
	var mu sync.Mutex
	for i := 0; i < n; i++ {
		b := body("basic", i)
		want[string(b)] = true
		m := client.NewMessage("SDKBasic", b).WithTags(fmt.Sprintf("T%d", i%3)).WithKeys(fmt.Sprintf("k%d", i), "common").
			WithProperty("idx", fmt.Sprint(i))
		switch i % 4 {
		case 0:
			res, err := p.Send(ctx, m)
			if err != nil {
				t.Fatalf("send %d: %v", i, err)
			}
			if res.Status != client.SendOK || res.MsgID == "" || res.OffsetMsgID == "" || res.Queue.Topic != "SDKBasic" {
				t.Fatalf("send %d: bad result %v", i, res)
			}
		case 1:
			wg.Add(1)
			if err := p.SendAsync(ctx, m, func(r *client.SendResult, err error) {
				defer wg.Done()
				if err != nil {
					mu.Lock()
					asyncErr = err
					mu.Unlock()
				}
			}); err != nil {
				t.Fatalf("send async %d: %v", i, err)
			}
		case 2:
			if err := p.SendOneway(ctx, m); err != nil {
				t.Fatalf("send oneway %d: %v", i, err)
			}
		case 3:
			m2 := client.NewMessage("SDKBasic", []byte(string(b)+"-batch")).WithTags("TB").WithKeys("kb")
			want[string(b)+"-batch"] = true
			res, err := p.SendBatch(ctx, m, m2)
			if err != nil {
				t.Fatalf("send batch %d: %v", i, err)
			}
			if got := strings.Count(res.OffsetMsgID, ",") + 1; got != 2 {
				t.Fatalf("batch result has %d offset ids: %v", got, res)
			}
		}
	}
	wg.Wait()
	if asyncErr != nil {
		t.Fatalf("async send: %v", asyncErr)
	}
	col := newCollector()
	startPush(t, "cg-basic", "SDKBasic", "*", col.handler("a"), fastConsumer(c)...)
	waitFor(t, 30*time.Second, "every message consumed", func() bool { return col.distinct() >= len(want) })
	waitCommittedToEnd(t, c, "cg-basic", "SDKBasic", 4)
	col.mu.Lock()
	defer col.mu.Unlock()
	for b, k := range col.count {
		if !want[b] {
			t.Errorf("unexpected message %q", b)
		}
		if k != 1 {
			t.Errorf("message %q delivered %d times", b, k)
		}
	}
	for _, m := range col.msgs {
		b := string(m.Body)
		if strings.HasSuffix(b, "-batch") {
			if m.Tags != "TB" || len(m.Keys) != 1 || m.Keys[0] != "kb" {
				t.Errorf("batch member %q: tags %q keys %v", b, m.Tags, m.Keys)
			}
			continue
		}
		var i int
		fmt.Sscanf(b, "basic-%05d", &i)
		if m.Tags != fmt.Sprintf("T%d", i%3) || len(m.Keys) != 2 || m.Keys[0] != fmt.Sprintf("k%d", i) || m.Property("idx") != fmt.Sprint(i) {
			t.Errorf("message %q: tags %q keys %v idx %q", b, m.Tags, m.Keys, m.Property("idx"))
		}
		if m.MsgID == "" || m.OffsetMsgID == "" || m.BornTimestamp.IsZero() || m.StoreTimestamp.IsZero() {
			t.Errorf("message %q lacks ids or times: %v", b, m)
		}
	}
}

// TestSDKTagFilterAndLargeBody: a consumer of "TA || TC" gets only those tags; a 64 KiB body
// (compressed by the producer) arrives intact.
func TestSDKTagFilterAndLargeBody(t *testing.T) {
	c := sdkCluster(t, nil)
	createTopic(t, c, "SDKTags", 2)
	p := startProducer(t, c)
	ctx := context.Background()
	big := []byte(strings.Repeat("skiff-large-body-", 4000))
	for i, tag := range []string{"TA", "TB", "TC", "TD", "TA", "TC"} {
		b := body(tag, i)
		if i == 0 {
			b = append(b, big...)
		}
		if _, err := p.Send(ctx, client.NewMessage("SDKTags", b).WithTags(tag)); err != nil {
			t.Fatal(err)
		}
	}
	col := newCollector()
	startPush(t, "cg-tags", "SDKTags", "TA || TC", col.handler("a"), fastConsumer(c)...)
	waitFor(t, 20*time.Second, "4 tagged messages", func() bool { return col.distinct() >= 4 })
	waitCommittedToEnd(t, c, "cg-tags", "SDKTags", 2)
	col.mu.Lock()
	defer col.mu.Unlock()
	if len(col.msgs) != 4 {
		t.Fatalf("got %d messages, want 4", len(col.msgs))
	}
	for _, m := range col.msgs {
		if m.Tags != "TA" && m.Tags != "TC" {
			t.Errorf("got tag %q", m.Tags)
		}
		if strings.HasPrefix(string(m.Body), "TA-00000") && !strings.HasSuffix(string(m.Body), string(big)) {
			t.Errorf("large body damaged: %d bytes", len(m.Body))
		}
	}
}

var _ = consumer.ConsumeSuccess

package compat

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"

	"github.com/skiffmq/skiff/client/admin"
	"github.com/skiffmq/skiff/internal/testutil"
)

// txListener commits "commit-*" bodies, rolls back "rollback-*" and leaves "unknown-*" open
// until the broker checks, when it commits them.
type txListener struct {
	mu      sync.Mutex
	checked map[string]int
}

func (l *txListener) ExecuteLocalTransaction(m *primitive.Message) primitive.LocalTransactionState {
	switch body := string(m.Body); {
	case strings.HasPrefix(body, "commit-"):
		return primitive.CommitMessageState
	case strings.HasPrefix(body, "rollback-"):
		return primitive.RollbackMessageState
	default:
		return primitive.UnknowState
	}
}

func (l *txListener) CheckLocalTransaction(m *primitive.MessageExt) primitive.LocalTransactionState {
	l.mu.Lock()
	l.checked[string(m.Body)]++
	l.mu.Unlock()
	return primitive.CommitMessageState
}

// TestTransactionCommitRollbackAndCheck sends transactional messages with the official
// TransactionProducer: committed ones are delivered, rolled-back ones never are, and those left
// unknown are resolved by the broker's check-back (CHECK_TRANSACTION_STATE) and then delivered.
func TestTransactionCommitRollbackAndCheck(t *testing.T) {
	needProcesses(t)
	t.Parallel()
	c := testutil.StartCluster(t, testutil.ClusterOptions{Bins: bins, NameServers: 1,
		Broker: testutil.BrokerOptions{RegisterNameServerPeriod: 10000,
			Extra: map[string]string{"transactionCheckInterval": "1000", "transactionTimeOut": "1000"}}})
	createTopic(t, c, "TxTopic", 4)
	ns := c.NamesrvList()
	l := &txListener{checked: map[string]int{}}
	p, err := rocketmq.NewTransactionProducer(l, producer.WithNameServer(ns), producer.WithGroupName("pg-tx"),
		producer.WithInstanceName("tx"), producer.WithRetry(1))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Shutdown() })
	var want []string
	for _, kind := range []string{"commit", "rollback", "unknown"} {
		for i := 0; i < 5; i++ {
			body := fmt.Sprintf("%s-%d", kind, i)
			r, err := p.SendMessageInTransaction(context.Background(), primitive.NewMessage("TxTopic", []byte(body)))
			if err != nil || r.Status != primitive.SendOK {
				t.Fatalf("SendMessageInTransaction %s: %v %v", body, r, err)
			}
			if kind != "rollback" {
				want = append(want, body)
			}
		}
	}
	s := newSink()
	startConsumer(t, ns, consumerOpts{group: "cg-tx", instance: "tx", topic: "TxTopic", sink: s})
	s.waitBodies(t, want, 60*time.Second, "committed and checked-then-committed transactional messages")
	// Every transaction is decided now (the unknown ones were committed by their check-back), so
	// the topic holding exactly the committed messages means a rolled-back one can never arrive.
	a, err := admin.New(admin.WithNameServers(ns))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	status, err := a.TopicStatus(context.Background(), "TxTopic")
	if err != nil {
		t.Fatal(err)
	}
	var stored int64
	for _, q := range status {
		stored += q.MaxOffset - q.MinOffset
	}
	if stored != int64(len(want)) {
		t.Fatalf("TxTopic holds %d messages, want the %d committed ones", stored, len(want))
	}
	for _, b := range s.bodies() {
		if strings.HasPrefix(b, "rollback-") {
			t.Fatalf("rolled-back message %s was delivered", b)
		}
	}
	if got := s.distinct(); got != len(want) {
		t.Fatalf("%d distinct messages delivered, want %d", got, len(want))
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := 0; i < 5; i++ {
		if l.checked[fmt.Sprintf("unknown-%d", i)] == 0 {
			t.Fatalf("unknown-%d was never checked; checks: %v", i, l.checked)
		}
	}
	for b := range l.checked {
		if !strings.HasPrefix(b, "unknown-") {
			t.Fatalf("the broker checked %s, whose outcome was known", b)
		}
	}
}

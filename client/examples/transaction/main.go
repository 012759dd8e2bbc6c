// Command transaction shows transactional messages. A producer.TransactionProducer sends
// --count half messages (ids 0..count-1) that consumers cannot see yet; after each, its
// producer.TransactionListener runs the "local transaction": it commits even ids, rolls back odd
// ids, and returns Unknown for every 5th id (0, 5, 10, ...). The broker later asks about the
// unknown ones (CheckLocalTransaction), and the listener answers Commit. A push consumer then
// prints what arrives: the committed messages, including those committed on check-back, and never
// the rolled-back ones. It exits 0 once every committed message arrived and no rolled-back one
// did within --grace after that, non-zero otherwise.
//
// The broker checks unknown transactions every transactionCheckInterval (60 s by default) once
// they are transactionTimeOut old (6 s), so with the quick-start broker the check-backs take up to
// about a minute; the default --timeout allows for that.
//
// Start the quick-start cluster (./scripts/quickstart.sh: a name server on 127.0.0.1:9876 and a
// broker), then:
//
//	go run ./client/examples/transaction -n 127.0.0.1:9876 -t TransactionTopic -c 10
package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/skiffmq/skiff/client"
	"github.com/skiffmq/skiff/client/consumer"
	"github.com/skiffmq/skiff/client/examples/internal/example"
	"github.com/skiffmq/skiff/client/producer"
)

func main() {
	example.Main("transaction", "send transactional messages: commit, roll back, and answer the broker's check-backs", run,
		&cli.StringFlag{Name: "topic", Aliases: []string{"t"}, Value: "TransactionTopic", Usage: "topic"},
		&cli.StringFlag{Name: "group", Aliases: []string{"g"}, Value: "TransactionProducerGroup", Usage: "producer group (check-backs go to a producer of this group)"},
		&cli.StringFlag{Name: "consumer-group", Value: "TransactionConsumerGroup", Usage: "consumer group"},
		&cli.IntFlag{Name: "count", Aliases: []string{"c"}, Value: 10, Usage: "how many transactional messages to send"},
		&cli.DurationFlag{Name: "timeout", Value: 90 * time.Second, Usage: "give up (exit 1) after this long"},
		&cli.DurationFlag{Name: "grace", Value: 2 * time.Second, Usage: "how long to keep watching for rolled-back messages after the committed ones arrived"},
	)
}

// outcome is what the local transaction of message id decides.
func outcome(id int) producer.LocalTransactionState {
	switch {
	case id%5 == 0:
		return producer.Unknown // the broker will ask CheckLocalTransaction
	case id%2 == 0:
		return producer.Commit
	default:
		return producer.Rollback
	}
}

// listener is the producer's side of the transactions.
type listener struct{}

// ExecuteLocalTransaction runs after the half message was stored. A real program would write to
// its database here and return Commit when that succeeded.
func (listener) ExecuteLocalTransaction(_ context.Context, msg *client.Message) producer.LocalTransactionState {
	id, _ := strconv.Atoi(msg.Property("id"))
	return outcome(id)
}

// CheckLocalTransaction answers the broker's question about a half message whose outcome is
// still unknown. A real program would look the transaction up; this one commits.
func (listener) CheckLocalTransaction(msg *client.MessageExt) producer.LocalTransactionState {
	fmt.Printf("check-back for id %s (msgId %s): answering COMMIT\n", msg.Property("id"), msg.MsgID)
	return producer.Commit
}

func run(c *cli.Context) error {
	ctx, stop := example.SignalContext()
	defer stop()

	topic, count := c.String("topic"), c.Int("count")
	if count < 1 {
		return errors.New("--count must be at least 1")
	}
	logger := example.Logger(c)
	run := strconv.FormatInt(time.Now().UnixNano(), 36) // tells this run's messages from older ones

	// A transaction producer needs its own group: the broker sends check-backs to any producer
	// of the group that sent the half message. It must stay up until they are answered.
	p, err := producer.NewTransactionProducer(listener{}, producer.WithNameServers(c.String("namesrv")),
		producer.WithGroup(c.String("group")), producer.WithLogger(logger))
	if err != nil {
		return err
	}
	if err := p.Start(); err != nil {
		return err
	}
	defer example.Shutdown("producer", p.Shutdown)

	var committed, rolledBack []int
	for id := 0; id < count; id++ {
		if ctx.Err() != nil {
			return errors.New("interrupted while sending")
		}
		msg := client.NewMessage(topic, fmt.Appendf(nil, "transactional message %d", id)).
			WithKeys(fmt.Sprintf("tx-%d", id)).WithProperty("id", strconv.Itoa(id)).WithProperty("run", run)
		res, err := p.SendMessageInTransaction(ctx, msg)
		if err != nil {
			return fmt.Errorf("send message %d: %w", id, err)
		}
		fmt.Printf("sent id %d: msgId=%s queue=%s local transaction: %s\n", id, res.MsgID, res.Queue, res.State)
		if res.State == producer.Rollback {
			rolledBack = append(rolledBack, id)
		} else {
			committed = append(committed, id) // Commit, or Unknown that the check-back commits
		}
	}
	fmt.Printf("expecting ids %v; rolled back: %v\n", committed, rolledBack)

	var (
		mu         sync.Mutex
		delivered  = map[int]bool{}
		unexpected []int
		allIn      = make(chan struct{})
	)
	pc, err := consumer.NewPushConsumer(c.String("consumer-group"), consumer.WithNameServers(c.String("namesrv")),
		consumer.WithConsumeFrom(consumer.ConsumeFromFirstOffset), consumer.WithLogger(logger))
	if err != nil {
		return err
	}
	err = pc.Subscribe(topic, "*", func(_ context.Context, msgs []*client.MessageExt) consumer.ConsumeResult {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range msgs {
			if m.Property("run") != run {
				continue // from an earlier run
			}
			id, _ := strconv.Atoi(m.Property("id"))
			how := "committed by the local transaction"
			if outcome(id) == producer.Unknown {
				how = "committed on check-back"
			}
			if !slices.Contains(committed, id) {
				how = "ROLLED BACK, yet delivered"
				unexpected = append(unexpected, id)
			}
			fmt.Printf("received id %d (%s): msgId=%s queue=%d queueOffset=%d\n", id, how, m.MsgID, m.QueueID, m.QueueOffset)
			if delivered[id] {
				continue // a redelivery
			}
			delivered[id] = true
			n := 0
			for _, id := range committed {
				if delivered[id] {
					n++
				}
			}
			if n == len(committed) {
				close(allIn)
			}
		}
		return consumer.ConsumeSuccess
	})
	if err != nil {
		return err
	}
	if err := pc.Start(); err != nil {
		return err
	}
	defer example.Shutdown("consumer", pc.Shutdown)

	timeout := time.After(c.Duration("timeout"))
	select {
	case <-allIn:
	case <-timeout:
		mu.Lock()
		defer mu.Unlock()
		return fmt.Errorf("timed out after %v: %d of %d committed messages delivered", c.Duration("timeout"), len(delivered), len(committed))
	case <-ctx.Done():
		return errors.New("interrupted while consuming")
	}
	// Rolled-back messages must never show up; watch a little longer.
	select {
	case <-time.After(c.Duration("grace")):
	case <-ctx.Done():
		return errors.New("interrupted while consuming")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(unexpected) > 0 {
		return fmt.Errorf("rolled-back messages were delivered: ids %v", unexpected)
	}
	fmt.Printf("delivered: %v; rolled back and not delivered: %v\n", committed, rolledBack)
	return nil
}

// Command orderly shows ordered messages. A producer with producer.HashQueueSelector sends the
// steps of --orders orders (created, paid, shipped, delivered), interleaved, each with its order
// id as sharding key (Message.WithShardingKey), so every step of an order lands in the same queue.
// A push consumer with consumer.WithOrderly(true) then consumes each queue on one goroutine, in
// queue order, and the program checks that every order's steps arrive in sequence. It exits 0
// when all orders arrived in order, non-zero if one did not or --timeout passes first.
//
// Start the quick-start cluster (./scripts/quickstart.sh: a name server on 127.0.0.1:9876 and a
// broker), then:
//
//	go run ./client/examples/orderly -n 127.0.0.1:9876 -t OrderTopic --orders 5
package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/skiffmq/skiff/client"
	"github.com/skiffmq/skiff/client/consumer"
	"github.com/skiffmq/skiff/client/examples/internal/example"
	"github.com/skiffmq/skiff/client/producer"
)

// steps are what happens to each order, in this order.
var steps = []string{"created", "paid", "shipped", "delivered"}

func main() {
	example.Main("orderly", "send ordered messages with sharding keys and consume them orderly", run,
		&cli.StringFlag{Name: "topic", Aliases: []string{"t"}, Value: "OrderTopic", Usage: "topic"},
		&cli.StringFlag{Name: "group", Aliases: []string{"g"}, Value: "OrderConsumerGroup", Usage: "consumer group"},
		&cli.IntFlag{Name: "orders", Aliases: []string{"c"}, Value: 5, Usage: fmt.Sprintf("how many orders to send (%d messages each)", len(steps))},
		&cli.DurationFlag{Name: "timeout", Value: 30 * time.Second, Usage: "give up (exit 1) after this long"},
	)
}

func run(c *cli.Context) error {
	ctx, stop := example.SignalContext()
	defer stop()

	topic, orders := c.String("topic"), c.Int("orders")
	if orders < 1 {
		return errors.New("--orders must be at least 1")
	}
	logger := example.Logger(c)
	// Messages carry this run's id, so that messages left over from earlier runs (which a new
	// group starting at the first offset also reads) are told apart.
	run := strconv.FormatInt(time.Now().UnixNano(), 36)

	// 1. Send. HashQueueSelector maps each sharding key to one queue.
	p, err := producer.New(producer.WithNameServers(c.String("namesrv")), producer.WithGroup("OrderProducerGroup"),
		producer.WithQueueSelector(producer.HashQueueSelector()), producer.WithLogger(logger))
	if err != nil {
		return err
	}
	if err := p.Start(); err != nil {
		return err
	}
	defer example.Shutdown("producer", p.Shutdown)
	for s, step := range steps {
		for o := 1; o <= orders; o++ {
			if ctx.Err() != nil {
				return errors.New("interrupted while sending")
			}
			order := fmt.Sprintf("order-%d", o)
			msg := client.NewMessage(topic, fmt.Appendf(nil, "%s %s", order, step)).
				WithShardingKey(order).WithKeys(order).WithTags(step).
				WithProperty("run", run).WithProperty("step", strconv.Itoa(s))
			res, err := p.Send(ctx, msg)
			if err != nil {
				return fmt.Errorf("send %s %s: %w", order, step, err)
			}
			fmt.Printf("sent %s step %d/%d (%s): queue=%d queueOffset=%d msgId=%s\n",
				order, s+1, len(steps), step, res.Queue.QueueID, res.QueueOffset, res.MsgID)
		}
	}

	// 2. Consume orderly: one goroutine per queue, messages of a queue one after the other.
	var (
		mu       sync.Mutex
		next     = map[string]int{} // order -> index of the step expected next
		seen     = map[string][]string{}
		queueOf  = map[string]int32{} // order -> the queue its steps came from
		problems []string
		complete int
		done     = make(chan struct{})
	)
	pc, err := consumer.NewPushConsumer(c.String("group"), consumer.WithNameServers(c.String("namesrv")),
		consumer.WithOrderly(true), consumer.WithConsumeFrom(consumer.ConsumeFromFirstOffset), consumer.WithLogger(logger))
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
			order := m.ShardingKey()
			s, _ := strconv.Atoi(m.Property("step"))
			fmt.Printf("received %s step %d/%d (%s): queue=%d queueOffset=%d\n", order, s+1, len(steps), steps[s], m.QueueID, m.QueueOffset)
			if q, ok := queueOf[order]; ok && q != m.QueueID {
				problems = append(problems, fmt.Sprintf("%s: step %s came from queue %d, earlier steps from queue %d", order, steps[s], m.QueueID, q))
			}
			queueOf[order] = m.QueueID
			switch want := next[order]; {
			case s < want:
				fmt.Printf("  (%s %s again: a redelivery, ignored)\n", order, steps[s])
				continue
			case s > want:
				problems = append(problems, fmt.Sprintf("%s: got %s while expecting %s", order, steps[s], steps[want]))
			}
			seen[order] = append(seen[order], steps[s])
			next[order] = s + 1
			if s+1 == len(steps) {
				complete++
				if complete == orders {
					close(done)
				}
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

	select {
	case <-done:
	case <-time.After(c.Duration("timeout")):
		mu.Lock()
		defer mu.Unlock()
		return fmt.Errorf("timed out after %v: %d of %d orders complete", c.Duration("timeout"), complete, orders)
	case <-ctx.Done():
		return errors.New("interrupted while consuming")
	}
	mu.Lock()
	defer mu.Unlock()
	for o := 1; o <= orders; o++ {
		order := fmt.Sprintf("order-%d", o)
		fmt.Printf("%s (queue %d): %s\n", order, queueOf[order], strings.Join(seen[order], " -> "))
	}
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Println("OUT OF ORDER:", p)
		}
		return fmt.Errorf("%d order(s) did not arrive in order", len(problems))
	}
	fmt.Printf("all %d orders arrived in order\n", orders)
	return nil
}

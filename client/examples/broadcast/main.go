// Command broadcast shows broadcasting consumption. It sends --count messages, then starts two
// push consumers, A and B, of the same group with consumer.WithModel(consumer.Broadcasting):
// unlike clustering, where a group's consumers share the queues and each message goes to one of
// them, every broadcasting consumer gets every message. Each keeps its offsets in a local file
// (WithOffsetDir, here a fresh folder under the system's temporary directory, named by
// WithInstanceName). It exits 0 once both consumers got every message, non-zero if --timeout
// passes first.
//
// Start the quick-start cluster (./scripts/quickstart.sh: a name server on 127.0.0.1:9876 and a
// broker), then:
//
//	go run ./client/examples/broadcast -n 127.0.0.1:9876 -t BroadcastTopic -c 10
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
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
	example.Main("broadcast", "show two broadcasting consumers of one group each getting every message", run,
		&cli.StringFlag{Name: "topic", Aliases: []string{"t"}, Value: "BroadcastTopic", Usage: "topic"},
		&cli.StringFlag{Name: "group", Aliases: []string{"g"}, Value: "BroadcastConsumerGroup", Usage: "consumer group of both consumers"},
		&cli.IntFlag{Name: "count", Aliases: []string{"c"}, Value: 10, Usage: "how many messages to send (each consumer waits for all)"},
		&cli.DurationFlag{Name: "timeout", Value: 30 * time.Second, Usage: "give up (exit 1) after this long"},
	)
}

// member is one broadcasting consumer and what it got.
type member struct {
	name string
	got  map[string]bool // idx -> received
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

	p, err := producer.New(producer.WithNameServers(c.String("namesrv")), producer.WithGroup("BroadcastProducerGroup"), producer.WithLogger(logger))
	if err != nil {
		return err
	}
	if err := p.Start(); err != nil {
		return err
	}
	defer example.Shutdown("producer", p.Shutdown)
	for i := 0; i < count; i++ {
		if ctx.Err() != nil {
			return errors.New("interrupted while sending")
		}
		res, err := p.Send(ctx, client.NewMessage(topic, fmt.Appendf(nil, "broadcast message %d", i)).
			WithProperty("run", run).WithProperty("idx", strconv.Itoa(i)))
		if err != nil {
			return fmt.Errorf("send message %d: %w", i, err)
		}
		fmt.Printf("sent %d: status=%s msgId=%s queue=%s\n", i, res.Status, res.MsgID, res.Queue)
	}

	// Broadcasting consumers keep offsets in <offsetDir>/<instanceName>/<group>/offsets.json. A
	// fresh folder per run makes both start from the first offset; a real program keeps one.
	dir, err := os.MkdirTemp("", "skiff-broadcast-example-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	var (
		mu       sync.Mutex
		complete int
		done     = make(chan struct{})
		members  []*member
	)
	for _, name := range []string{"A", "B"} {
		m := &member{name: name, got: map[string]bool{}}
		pc, err := consumer.NewPushConsumer(c.String("group"), consumer.WithNameServers(c.String("namesrv")),
			consumer.WithModel(consumer.Broadcasting),
			consumer.WithInstanceName(fmt.Sprintf("broadcast-%s-%d", name, os.Getpid())),
			consumer.WithOffsetDir(dir),
			consumer.WithConsumeFrom(consumer.ConsumeFromFirstOffset),
			consumer.WithLogger(logger))
		if err != nil {
			return err
		}
		err = pc.Subscribe(topic, "*", func(_ context.Context, msgs []*client.MessageExt) consumer.ConsumeResult {
			mu.Lock()
			defer mu.Unlock()
			for _, msg := range msgs {
				idx := msg.Property("idx")
				if msg.Property("run") != run || m.got[idx] {
					continue // from an earlier run, or a redelivery
				}
				m.got[idx] = true
				fmt.Printf("[%s] received %d/%d: %s (queue %d, offset %d)\n", m.name, len(m.got), count, msg.Body, msg.QueueID, msg.QueueOffset)
				if len(m.got) == count {
					complete++
					if complete == 2 {
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
		defer example.Shutdown("consumer "+name, pc.Shutdown)
		members = append(members, m)
		if s, ok := pc.OffsetStore().(*consumer.LocalOffsetStore); ok {
			fmt.Printf("consumer %s (client id %s) keeps its offsets in %s\n", name, pc.ClientID(), s.Path())
		}
	}

	select {
	case <-done:
		fmt.Printf("both consumers received all %d messages\n", count)
		return nil
	case <-time.After(c.Duration("timeout")):
		mu.Lock()
		defer mu.Unlock()
		return fmt.Errorf("timed out after %v: A received %d, B %d of %d messages", c.Duration("timeout"), len(members[0].got), len(members[1].got), count)
	case <-ctx.Done():
		return errors.New("interrupted while consuming")
	}
}

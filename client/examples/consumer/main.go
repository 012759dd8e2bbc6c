// Command consumer shows a push consumer in clustering mode (the default): it subscribes to a
// topic with a tag expression, prints one line per message and exits once --count messages have
// arrived (non-zero if --timeout passes first). The group's offsets are kept by the broker, so a
// second run only sees messages sent since.
//
// Start the quick-start cluster (./scripts/quickstart.sh: a name server on 127.0.0.1:9876 and a
// broker), send some messages with the producer example, then:
//
//	go run ./client/examples/producer -n 127.0.0.1:9876 -t ExampleTopic -c 10
//	go run ./client/examples/consumer -n 127.0.0.1:9876 -t ExampleTopic -c 10
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/skiffmq/skiff/client"
	"github.com/skiffmq/skiff/client/consumer"
	"github.com/skiffmq/skiff/client/examples/internal/example"
)

func main() {
	example.Main("consumer", "consume messages with a push consumer and print each one", run,
		&cli.StringFlag{Name: "topic", Aliases: []string{"t"}, Value: "ExampleTopic", Usage: "topic to consume"},
		&cli.StringFlag{Name: "group", Aliases: []string{"g"}, Value: "ExampleConsumerGroup", Usage: "consumer group"},
		&cli.StringFlag{Name: "expr", Aliases: []string{"e"}, Value: "*", Usage: `tag expression ("*", "TagA", "TagA || TagB")`},
		&cli.IntFlag{Name: "count", Aliases: []string{"c"}, Value: 10, Usage: "exit after this many messages"},
		&cli.DurationFlag{Name: "timeout", Value: 30 * time.Second, Usage: "give up (exit 1) after this long"},
	)
}

func run(c *cli.Context) error {
	ctx, stop := example.SignalContext()
	defer stop()

	topic, count := c.String("topic"), c.Int("count")
	if count < 1 {
		return errors.New("--count must be at least 1")
	}
	opts := []consumer.Option{
		consumer.WithNameServers(c.String("namesrv")),
		// A new group starts at the oldest stored message instead of only new ones.
		consumer.WithConsumeFrom(consumer.ConsumeFromFirstOffset),
	}
	opts = append(opts, consumer.WithLogger(example.Logger(c)))
	pc, err := consumer.NewPushConsumer(c.String("group"), opts...)
	if err != nil {
		return err
	}

	var (
		mu       sync.Mutex
		received int
		done     = make(chan struct{})
	)
	// Handlers run on up to 20 goroutines at once (WithGoroutines); each call gets one message
	// unless WithBatchSize says more.
	err = pc.Subscribe(topic, c.String("expr"), func(_ context.Context, msgs []*client.MessageExt) consumer.ConsumeResult {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range msgs {
			received++
			fmt.Printf("received %d: msgId=%s tags=%s keys=%v queue=%d offset=%d body=%q\n",
				received, m.MsgID, m.Tags, m.Keys, m.QueueID, m.QueueOffset, m.Body)
			if received == count {
				close(done)
			}
		}
		return consumer.ConsumeSuccess // ConsumeRetryLater would have the broker redeliver them later
	})
	if err != nil {
		return err
	}
	if err := pc.Start(); err != nil {
		return err
	}
	defer func() {
		// Shutdown waits for running handlers and commits the consumed offsets.
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := pc.Shutdown(sctx); err != nil {
			fmt.Fprintln(os.Stderr, "consumer: shutdown:", err)
		}
	}()
	fmt.Printf("consumer %s of group %s started; waiting for %d messages on %s\n", pc.ClientID(), pc.Group(), count, topic)

	got := func() int { mu.Lock(); defer mu.Unlock(); return received }
	select {
	case <-done:
		fmt.Printf("received %d messages\n", got())
		return nil
	case <-time.After(c.Duration("timeout")):
		return fmt.Errorf("timed out after %v: received %d of %d messages", c.Duration("timeout"), got(), count)
	case <-ctx.Done():
		return fmt.Errorf("interrupted: received %d of %d messages", got(), count)
	}
}

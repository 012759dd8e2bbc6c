// Command batch shows batch sends: producer.SendBatch stores several messages of one topic with
// one request, together and in order, in one queue. It sends --count messages in batches of
// --batch-size and prints one line per batch (the message ids of a batch are comma-joined).
//
// Start the quick-start cluster (./scripts/quickstart.sh: a name server on 127.0.0.1:9876 and a
// broker), then:
//
//	go run ./client/examples/batch -n 127.0.0.1:9876 -t BatchTopic -c 10 -b 5
//	go run ./client/examples/consumer -n 127.0.0.1:9876 -t BatchTopic -c 10
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/skiffmq/skiff/client"
	"github.com/skiffmq/skiff/client/examples/internal/example"
	"github.com/skiffmq/skiff/client/producer"
)

func main() {
	example.Main("batch", "send messages in batches (SendBatch)", run,
		&cli.StringFlag{Name: "topic", Aliases: []string{"t"}, Value: "BatchTopic", Usage: "topic to send to"},
		&cli.StringFlag{Name: "group", Aliases: []string{"g"}, Value: "BatchProducerGroup", Usage: "producer group"},
		&cli.IntFlag{Name: "count", Aliases: []string{"c"}, Value: 10, Usage: "how many messages to send in all"},
		&cli.IntFlag{Name: "batch-size", Aliases: []string{"b"}, Value: 5, Usage: "messages per batch"},
	)
}

func run(c *cli.Context) error {
	ctx, stop := example.SignalContext()
	defer stop()

	topic, count, size := c.String("topic"), c.Int("count"), c.Int("batch-size")
	if count < 1 || size < 1 {
		return errors.New("--count and --batch-size must be at least 1")
	}
	opts := []producer.Option{producer.WithNameServers(c.String("namesrv")), producer.WithGroup(c.String("group"))}
	opts = append(opts, producer.WithLogger(example.Logger(c)))
	p, err := producer.New(opts...)
	if err != nil {
		return err
	}
	if err := p.Start(); err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := p.Shutdown(sctx); err != nil {
			fmt.Fprintln(os.Stderr, "batch: shutdown:", err)
		}
	}()

	batches := 0
	for first := 0; first < count; first += size {
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted after %d batches", batches)
		}
		last := min(first+size, count) - 1
		// Every message of a batch goes to the same topic; batches cannot be delayed, and the
		// whole batch must fit the producer's maximum message size (4 MiB by default).
		msgs := make([]*client.Message, 0, last-first+1)
		for i := first; i <= last; i++ {
			msgs = append(msgs, client.NewMessage(topic, fmt.Appendf(nil, "batch message %d", i)).
				WithTags("TagA").WithKeys(fmt.Sprintf("KEY%d", i)))
		}
		res, err := p.SendBatch(ctx, msgs...)
		if err != nil {
			return fmt.Errorf("send batch of messages %d-%d: %w", first, last, err)
		}
		batches++
		ids := strings.Split(res.MsgID, ",")
		fmt.Printf("sent batch %d (messages %d-%d): status=%s queue=%s queueOffsets=%d-%d msgIds=%s\n",
			batches, first, last, res.Status, res.Queue, res.QueueOffset, res.QueueOffset+int64(len(ids))-1, res.MsgID)
	}
	fmt.Printf("sent %d messages in %d batches to %s\n", count, batches, topic)
	return nil
}

// Command producer shows the simplest use of the Skiff Go SDK: a producer that sends --count
// messages (synchronously, or with --async through SendAsync callbacks) and prints one line per
// send result.
//
// Start the quick-start cluster (./scripts/quickstart.sh: a name server on 127.0.0.1:9876 and a
// broker that creates topics on first use), then send ten messages:
//
//	go run ./client/examples/producer -n 127.0.0.1:9876 -t ExampleTopic -c 10
//
// and read them back with the consumer (or pull) example:
//
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
	"github.com/skiffmq/skiff/client/examples/internal/example"
	"github.com/skiffmq/skiff/client/producer"
)

func main() {
	example.Main("producer", "send messages and print each send result", run,
		&cli.StringFlag{Name: "topic", Aliases: []string{"t"}, Value: "ExampleTopic", Usage: "topic to send to"},
		&cli.StringFlag{Name: "group", Aliases: []string{"g"}, Value: "ExampleProducerGroup", Usage: "producer group"},
		&cli.StringFlag{Name: "tags", Value: "TagA", Usage: "tag of every message"},
		&cli.IntFlag{Name: "count", Aliases: []string{"c"}, Value: 10, Usage: "how many messages to send"},
		&cli.BoolFlag{Name: "async", Usage: "send asynchronously (SendAsync) instead of waiting for each result"},
	)
}

func run(c *cli.Context) error {
	// Ctrl-C or SIGTERM cancels ctx: sends in progress give up and the producer shuts down.
	ctx, stop := example.SignalContext()
	defer stop()

	topic, count := c.String("topic"), c.Int("count")
	if count < 1 {
		return errors.New("--count must be at least 1")
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
		// Shutdown waits for async sends still in flight, then unregisters the group.
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := p.Shutdown(sctx); err != nil {
			fmt.Fprintln(os.Stderr, "producer: shutdown:", err)
		}
	}()

	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		failed int
	)
	for i := 0; i < count; i++ {
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted after %d of %d messages", i, count)
		}
		msg := client.NewMessage(topic, fmt.Appendf(nil, "Hello Skiff %d", i)).
			WithTags(c.String("tags")).
			WithKeys(fmt.Sprintf("KEY%d", i))
		if !c.Bool("async") {
			res, err := p.Send(ctx, msg)
			if err != nil {
				return fmt.Errorf("send message %d: %w", i, err)
			}
			printResult(i, res)
			continue
		}
		wg.Add(1)
		err := p.SendAsync(ctx, msg, func(res *client.SendResult, err error) {
			defer wg.Done()
			mu.Lock() // keep lines whole
			defer mu.Unlock()
			if err != nil {
				failed++
				fmt.Printf("send %d failed: %v\n", i, err)
				return
			}
			printResult(i, res)
		})
		if err != nil {
			wg.Done()
			return fmt.Errorf("send message %d: %w", i, err)
		}
	}
	wg.Wait()
	if failed > 0 {
		return fmt.Errorf("%d of %d sends failed", failed, count)
	}
	fmt.Printf("sent %d messages to %s\n", count, topic)
	return nil
}

func printResult(i int, res *client.SendResult) {
	fmt.Printf("sent %d: status=%s msgId=%s queue=%s queueOffset=%d\n", i, res.Status, res.MsgID, res.Queue, res.QueueOffset)
}

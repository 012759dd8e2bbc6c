// Command delay shows delayed (scheduled) messages. It sends --count messages with
// Message.DelayLevel = --level; the broker holds each back for the duration of that level in its
// messageDelayLevel table ("1s 5s 10s 30s 1m 2m ..." by default, so level 2 is 5 s), then a push
// consumer prints each message with the delay it observed (receive time minus born time). It
// exits 0 once all have arrived, non-zero if --timeout passes first.
//
// Start the quick-start cluster (./scripts/quickstart.sh: a name server on 127.0.0.1:9876 and a
// broker), then:
//
//	go run ./client/examples/delay -n 127.0.0.1:9876 -t DelayTopic -c 5 --level 2
package main

import (
	"context"
	"errors"
	"fmt"
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
	example.Main("delay", "send delayed messages and print the delay each one had", run,
		&cli.StringFlag{Name: "topic", Aliases: []string{"t"}, Value: "DelayTopic", Usage: "topic"},
		&cli.StringFlag{Name: "group", Aliases: []string{"g"}, Value: "DelayConsumerGroup", Usage: "consumer group"},
		&cli.IntFlag{Name: "count", Aliases: []string{"c"}, Value: 5, Usage: "how many messages to send and wait for"},
		&cli.IntFlag{Name: "level", Aliases: []string{"l"}, Value: 2, Usage: "delay level, 1..18 (the broker's messageDelayLevel)"},
		&cli.DurationFlag{Name: "timeout", Value: 30 * time.Second, Usage: "give up (exit 1) after this long"},
	)
}

func run(c *cli.Context) error {
	ctx, stop := example.SignalContext()
	defer stop()

	topic, count, level := c.String("topic"), c.Int("count"), c.Int("level")
	if count < 1 || level < 1 {
		return errors.New("--count and --level must be at least 1")
	}
	logger := example.Logger(c)
	run := strconv.FormatInt(time.Now().UnixNano(), 36) // tells this run's messages from older ones

	p, err := producer.New(producer.WithNameServers(c.String("namesrv")), producer.WithGroup("DelayProducerGroup"), producer.WithLogger(logger))
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
		msg := client.NewMessage(topic, fmt.Appendf(nil, "delayed message %d", i)).
			WithDelayLevel(level).WithProperty("run", run).WithProperty("idx", strconv.Itoa(i))
		res, err := p.Send(ctx, msg)
		if err != nil {
			return fmt.Errorf("send message %d: %w", i, err)
		}
		fmt.Printf("sent %d at %s with delay level %d: status=%s msgId=%s\n", i, time.Now().Format("15:04:05.000"), level, res.Status, res.MsgID)
	}

	var (
		mu       sync.Mutex
		received = map[string]bool{}
		minD     time.Duration
		maxD     time.Duration
		done     = make(chan struct{})
	)
	pc, err := consumer.NewPushConsumer(c.String("group"), consumer.WithNameServers(c.String("namesrv")),
		consumer.WithConsumeFrom(consumer.ConsumeFromFirstOffset), consumer.WithLogger(logger))
	if err != nil {
		return err
	}
	err = pc.Subscribe(topic, "*", func(_ context.Context, msgs []*client.MessageExt) consumer.ConsumeResult {
		now := time.Now()
		mu.Lock()
		defer mu.Unlock()
		for _, m := range msgs {
			if m.Property("run") != run || received[m.Property("idx")] {
				continue // from an earlier run, or a redelivery
			}
			received[m.Property("idx")] = true
			d := now.Sub(m.BornTimestamp)
			if len(received) == 1 || d < minD {
				minD = d
			}
			maxD = max(maxD, d)
			// The broker drops the DELAY property when it delivers the message, so the level
			// printed is the one sent.
			fmt.Printf("received %s: level=%d delay=%v (born %s, received %s)\n", m.Property("idx"), level,
				d.Round(time.Millisecond), m.BornTimestamp.Format("15:04:05.000"), now.Format("15:04:05.000"))
			if len(received) == count {
				close(done)
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
		mu.Lock()
		defer mu.Unlock()
		fmt.Printf("received all %d delayed messages; observed delays from %v to %v\n", count, minD.Round(time.Millisecond), maxD.Round(time.Millisecond))
		return nil
	case <-time.After(c.Duration("timeout")):
		mu.Lock()
		defer mu.Unlock()
		return fmt.Errorf("timed out after %v: received %d of %d messages", c.Duration("timeout"), len(received), count)
	case <-ctx.Done():
		return errors.New("interrupted while consuming")
	}
}

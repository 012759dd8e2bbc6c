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
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/skiffmq/skiff/client"
	"github.com/skiffmq/skiff/client/consumer"
	"github.com/skiffmq/skiff/client/producer"
)

func main() {
	app := &cli.App{
		Name:  "broadcast",
		Usage: "show two broadcasting consumers of one group each getting every message",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "namesrv", Aliases: []string{"n"}, Value: "127.0.0.1:9876", EnvVars: []string{"NAMESRV_ADDR"}, Usage: "name server address(es), `ip:port[;ip:port]`"},
			&cli.StringFlag{Name: "topic", Aliases: []string{"t"}, Value: "BroadcastTopic", Usage: "topic"},
			&cli.StringFlag{Name: "group", Aliases: []string{"g"}, Value: "BroadcastConsumerGroup", Usage: "consumer group of both consumers"},
			&cli.IntFlag{Name: "count", Aliases: []string{"c"}, Value: 10, Usage: "how many messages to send (each consumer waits for all)"},
			&cli.DurationFlag{Name: "timeout", Value: 30 * time.Second, Usage: "give up (exit 1) after this long"},
			&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "log what the SDK does to stderr"},
		},
		Action: run,
	}
	if err := app.Run(os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "broadcast:", err)
		os.Exit(1)
	}
}

// member is one broadcasting consumer and what it got.
type member struct {
	name string
	got  map[string]bool // idx -> received
}

func run(c *cli.Context) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	topic, count := c.String("topic"), c.Int("count")
	if count < 1 {
		return errors.New("--count must be at least 1")
	}
	var logger *slog.Logger
	if c.Bool("verbose") {
		logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	run := strconv.FormatInt(time.Now().UnixNano(), 36) // tells this run's messages from older ones

	p, err := producer.New(producer.WithNameServers(c.String("namesrv")), producer.WithGroup("BroadcastProducerGroup"), producer.WithLogger(logger))
	if err != nil {
		return err
	}
	if err := p.Start(); err != nil {
		return err
	}
	defer shutdown("producer", p.Shutdown)
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
		defer shutdown("consumer "+name, pc.Shutdown)
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

// shutdown calls a client's Shutdown with a deadline.
func shutdown(what string, f func(context.Context) error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := f(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "broadcast: %s shutdown: %v\n", what, err)
	}
}

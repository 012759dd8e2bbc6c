// Command pull shows the pull consumer, which reads queues at offsets of the caller's choosing.
// It lists the topic's queues, starts each at the group's committed offset (or, for a queue the
// group never committed, at its min offset), pulls, prints every message and commits the next
// offset after each batch. It stops after --count messages (exit 0), or with --count 0 once a pass
// over all queues finds nothing new; it exits non-zero if --timeout passes first. Because offsets
// are committed, a second run starts where the first stopped.
//
// Start the quick-start cluster (./scripts/quickstart.sh: a name server on 127.0.0.1:9876 and a
// broker), send some messages with the producer example, then:
//
//	go run ./client/examples/producer -n 127.0.0.1:9876 -t ExampleTopic -c 10
//	go run ./client/examples/pull -n 127.0.0.1:9876 -t ExampleTopic -c 10
//	go run ./client/examples/pull -n 127.0.0.1:9876 -t ExampleTopic -c 0   # nothing new: 0 messages
package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/skiffmq/skiff/client"
	"github.com/skiffmq/skiff/client/consumer"
	"github.com/skiffmq/skiff/client/examples/internal/example"
)

func main() {
	example.Main("pull", "pull every queue of a topic from the committed offset, print, and commit", run,
		&cli.StringFlag{Name: "topic", Aliases: []string{"t"}, Value: "ExampleTopic", Usage: "topic to pull"},
		&cli.StringFlag{Name: "group", Aliases: []string{"g"}, Value: "ExamplePullGroup", Usage: "consumer group whose offsets are read and committed"},
		&cli.StringFlag{Name: "expr", Aliases: []string{"e"}, Value: "*", Usage: `tag expression ("*", "TagA", "TagA || TagB")`},
		&cli.IntFlag{Name: "count", Aliases: []string{"c"}, Value: 10, Usage: "stop after this many messages (0: after one pass finds nothing new)"},
		&cli.DurationFlag{Name: "timeout", Value: 30 * time.Second, Usage: "give up (exit 1) after this long"},
	)
}

func run(c *cli.Context) error {
	ctx, stop := example.SignalContext()
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, c.Duration("timeout"))
	defer cancel()

	topic, expr, count := c.String("topic"), c.String("expr"), c.Int("count")
	if count < 0 {
		return errors.New("--count must not be negative")
	}
	opts := []consumer.Option{consumer.WithNameServers(c.String("namesrv"))}
	opts = append(opts, consumer.WithLogger(example.Logger(c)))
	pc, err := consumer.NewPullConsumer(c.String("group"), opts...)
	if err != nil {
		return err
	}
	if err := pc.Start(); err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = pc.Shutdown(sctx) // a pull consumer commits only through CommitOffset
	}()

	queues, err := pc.Queues(ctx, topic)
	if err != nil {
		return err
	}
	fmt.Printf("topic %s has %d queues\n", topic, len(queues))
	next := make(map[client.MessageQueue]int64, len(queues))
	for _, mq := range queues {
		off, err := pc.CommittedOffset(ctx, mq)
		if err != nil {
			return err
		}
		from := "committed offset"
		if off < 0 {
			if off, err = pc.MinOffset(ctx, mq); err != nil {
				return err
			}
			from = "min offset (nothing committed yet)"
		}
		maxOff, err := pc.MaxOffset(ctx, mq)
		if err != nil {
			return err
		}
		fmt.Printf("queue %s: starting at %d, the %s; max offset %d\n", mq, off, from, maxOff)
		next[mq] = off
	}

	pulled := 0
	for count == 0 || pulled < count {
		found := false
		for _, mq := range queues {
			if count > 0 && pulled >= count {
				break
			}
			n := 32
			if count > 0 {
				n = min(n, count-pulled)
			}
			res, err := pc.Pull(ctx, mq, expr, next[mq], n)
			if err != nil {
				if ctx.Err() != nil {
					break
				}
				return err
			}
			for _, m := range res.Messages {
				pulled++
				fmt.Printf("pulled %d: queue=%d offset=%d msgId=%s tags=%s body=%q\n", pulled, m.QueueID, m.QueueOffset, m.MsgID, m.Tags, m.Body)
			}
			if res.Status == client.PullOffsetIllegal {
				fmt.Printf("queue %s: offset %d is no longer stored; moving to %d\n", mq, next[mq], res.NextBeginOffset)
			}
			if res.NextBeginOffset == next[mq] {
				continue
			}
			found = found || len(res.Messages) > 0
			next[mq] = res.NextBeginOffset
			// Commit the offset of the next message to read (also past messages the tag
			// expression filtered out).
			if err := pc.CommitOffset(ctx, mq, next[mq]); err != nil {
				return err
			}
			fmt.Printf("committed offset %d of queue %d\n", next[mq], mq.QueueID)
		}
		if ctx.Err() != nil {
			break
		}
		if !found {
			if count == 0 {
				break
			}
			select { // nothing new anywhere: wait a little before the next pass
			case <-ctx.Done():
			case <-time.After(500 * time.Millisecond):
			}
		}
	}
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return fmt.Errorf("timed out after %v: pulled %d of %d messages", c.Duration("timeout"), pulled, count)
	case ctx.Err() != nil:
		return fmt.Errorf("interrupted: pulled %d messages", pulled)
	}
	fmt.Printf("pulled %d messages\n", pulled)
	return nil
}

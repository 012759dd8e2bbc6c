package main

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/skiffmq/skiff/client/admin"
)

func stamp(ms int64) string {
	if ms <= 0 {
		return "-"
	}
	return time.UnixMilli(ms).Format("2006-01-02 15:04:05,000")
}

func topicStatusCommand() *cli.Command {
	return &cli.Command{
		Name:  "topicStatus",
		Usage: "min and max offset and last update time of every queue of a topic",
		Flags: []cli.Flag{namesrvFlag(),
			&cli.StringFlag{Name: "topic", Aliases: []string{"t"}, Required: true, Usage: "topic"}},
		Action: func(c *cli.Context) error {
			return withAdmin(c, func(ctx context.Context, a *admin.Admin) error {
				qs, err := a.TopicStatus(ctx, c.String("topic"))
				if err != nil {
					return err
				}
				if done, err := printJSON(c, qs); done {
					return err
				}
				w := c.App.Writer
				fmt.Fprintf(w, "%-32s  %-4s  %-20s  %-20s  %s\n", "#Broker Name", "#QID", "#Min Offset", "#Max Offset", "#Last Updated")
				for _, q := range qs {
					fmt.Fprintf(w, "%-32s  %-4d  %-20d  %-20d  %s\n", q.BrokerName, q.QueueID, q.MinOffset, q.MaxOffset, stamp(q.LastUpdateTimestamp))
				}
				return nil
			})
		},
	}
}

func consumerProgressCommand() *cli.Command {
	return &cli.Command{
		Name:  "consumerProgress",
		Usage: "consumption progress (lag) of a consumer group per queue",
		Flags: []cli.Flag{namesrvFlag(),
			&cli.StringFlag{Name: "groupName", Aliases: []string{"g"}, Required: true, Usage: "consumer group"},
			&cli.StringFlag{Name: "topicName", Aliases: []string{"t"}, Usage: "only this topic"}},
		Action: func(c *cli.Context) error {
			return withAdmin(c, func(ctx context.Context, a *admin.Admin) error {
				brokers, err := groupBrokers(ctx, a, c.String("groupName"))
				if err != nil {
					return err
				}
				qs, err := a.ConsumerProgress(ctx, brokers, c.String("groupName"), c.String("topicName"))
				if err != nil {
					return err
				}
				if done, err := printJSON(c, qs); done {
					return err
				}
				w := c.App.Writer
				fmt.Fprintf(w, "%-32s  %-32s  %-4s  %-20s  %-20s  %-12s %s\n", "#Topic", "#Broker Name", "#QID", "#Broker Offset", "#Consumer Offset", "#Diff", "#LastTime")
				var total int64
				for _, q := range qs {
					diff := q.BrokerOffset - q.ConsumerOffset
					total += diff
					fmt.Fprintf(w, "%-32s  %-32s  %-4d  %-20d  %-20d  %-12d %s\n", q.Topic, q.BrokerName, q.QueueID, q.BrokerOffset, q.ConsumerOffset, diff, stamp(q.LastTimestamp))
				}
				fmt.Fprintf(w, "\nConsume TPS: 0.00\nDiff Total: %d\n", total)
				return nil
			})
		},
	}
}

// parseResetTime reads "now", milliseconds, or yyyy-MM-dd#HH:mm:ss:SSS.
func parseResetTime(s string) (int64, error) {
	if s == "now" {
		return time.Now().UnixMilli(), nil
	}
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return ms, nil
	}
	t, err := time.ParseInLocation("2006-01-02#15:04:05:000", s, time.Local)
	if err != nil {
		return 0, fmt.Errorf("-s %q: want now, milliseconds, or yyyy-MM-dd#HH:mm:ss:SSS", s)
	}
	return t.UnixMilli(), nil
}

func resetOffsetByTimeCommand() *cli.Command {
	return &cli.Command{
		Name:  "resetOffsetByTime",
		Usage: "move a consumer group's offsets of a topic to a point in time",
		Flags: []cli.Flag{namesrvFlag(),
			&cli.StringFlag{Name: "group", Aliases: []string{"g"}, Required: true, Usage: "consumer group"},
			&cli.StringFlag{Name: "topic", Aliases: []string{"t"}, Required: true, Usage: "topic"},
			&cli.StringFlag{Name: "timestamp", Aliases: []string{"s"}, Required: true, Usage: "now | ms | yyyy-MM-dd#HH:mm:ss:SSS"},
			&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Value: true, Usage: "also move offsets forward"}},
		Action: func(c *cli.Context) error {
			ts, err := parseResetTime(c.String("timestamp"))
			if err != nil {
				return err
			}
			return withAdmin(c, func(ctx context.Context, a *admin.Admin) error {
				offs, err := a.ResetOffsetByTime(ctx, c.String("group"), c.String("topic"), ts, c.Bool("force"))
				if err != nil {
					return err
				}
				rows := make([]admin.QueueProgress, 0, len(offs))
				for mq, off := range offs {
					rows = append(rows, admin.QueueProgress{MessageQueue: mq, ConsumerOffset: off})
				}
				sortRows(rows)
				if done, err := printJSON(c, rows); done {
					return err
				}
				fmt.Fprintf(c.App.Writer, "%-32s  %-4s  %s\n", "#brokerName", "#queueId", "#offset")
				for _, r := range rows {
					fmt.Fprintf(c.App.Writer, "%-32s  %-8d  %d\n", r.BrokerName, r.QueueID, r.ConsumerOffset)
				}
				return nil
			})
		},
	}
}

func sortRows(rows []admin.QueueProgress) {
	for i := 1; i < len(rows); i++ {
		for j := i; j > 0 && (rows[j].BrokerName < rows[j-1].BrokerName ||
			(rows[j].BrokerName == rows[j-1].BrokerName && rows[j].QueueID < rows[j-1].QueueID)); j-- {
			rows[j], rows[j-1] = rows[j-1], rows[j]
		}
	}
}

func queryMsgByOffsetCommand() *cli.Command {
	return &cli.Command{
		Name:  "queryMsgByOffset",
		Usage: "show the message at a queue offset",
		Flags: []cli.Flag{namesrvFlag(),
			&cli.StringFlag{Name: "topic", Aliases: []string{"t"}, Required: true, Usage: "topic"},
			&cli.StringFlag{Name: "brokerName", Aliases: []string{"b"}, Required: true, Usage: "broker name"},
			&cli.IntFlag{Name: "queueId", Aliases: []string{"i"}, Required: true, Usage: "queue id"},
			&cli.Int64Flag{Name: "offset", Aliases: []string{"o"}, Required: true, Usage: "queue offset"}},
		Action: func(c *cli.Context) error {
			return withAdmin(c, func(ctx context.Context, a *admin.Admin) error {
				msgs, err := a.PullMessages(ctx, c.String("topic"), c.String("brokerName"), int32(c.Int("queueId")), c.Int64("offset"), 1)
				if err != nil {
					return err
				}
				if len(msgs) == 0 || msgs[0].QueueOffset != c.Int64("offset") {
					return fmt.Errorf("no message at %s/%s/%d offset %d", c.String("topic"), c.String("brokerName"), c.Int("queueId"), c.Int64("offset"))
				}
				if done, err := printJSON(c, msgs[0]); done {
					return err
				}
				printMessage(c.App.Writer, msgs[0].Message)
				return nil
			})
		},
	}
}

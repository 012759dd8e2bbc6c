package main

import (
	"context"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/skiffmq/skiff/client/admin"
)

func sendMessageCommand() *cli.Command {
	return &cli.Command{
		Name:  "sendMessage",
		Usage: "send one message to a topic",
		Flags: []cli.Flag{
			namesrvFlag(),
			&cli.StringFlag{Name: "topic", Aliases: []string{"t"}, Usage: "topic name", Required: true},
			&cli.StringFlag{Name: "body", Aliases: []string{"p"}, Usage: "message body", Required: true},
			&cli.StringFlag{Name: "keys", Aliases: []string{"k"}, Usage: "message keys, separated by spaces"},
			&cli.StringFlag{Name: "tags", Aliases: []string{"c"}, Usage: "message tag"},
			&cli.StringFlag{Name: "broker", Aliases: []string{"b"}, Usage: "broker name to send to"},
			&cli.IntFlag{Name: "qid", Aliases: []string{"i"}, Value: -1, Usage: "queue id to send to"},
		},
		Action: func(c *cli.Context) error {
			return withAdmin(c, func(ctx context.Context, a *admin.Admin) error {
				r, err := a.SendMessage(ctx, c.String("topic"), []byte(c.String("body")), c.String("tags"), c.String("keys"),
					c.String("broker"), int32(c.Int("qid")))
				if err != nil {
					return err
				}
				if done, err := printJSON(c, r); done {
					return err
				}
				status := map[int32]string{0: "SEND_OK", 10: "FLUSH_DISK_TIMEOUT", 11: "SLAVE_NOT_AVAILABLE", 12: "FLUSH_SLAVE_TIMEOUT"}[r.Code]
				fmt.Fprintf(c.App.Writer, "%-22s %-12s %-6s %-20s %-34s %s\n", "#Broker Name", "#QID", "#Offset", "#Status", "#MsgId", "#OffsetMsgId")
				fmt.Fprintf(c.App.Writer, "%-22s %-12d %-6d %-20s %-34s %s\n", r.BrokerName, r.QueueID, r.QueueOffset, status, r.MsgID, r.OffsetMsgID)
				return nil
			})
		},
	}
}

func consumeMessageCommand() *cli.Command {
	return &cli.Command{
		Name:  "consumeMessage",
		Usage: "read messages of a topic (pull; commits no offset)",
		Flags: []cli.Flag{
			namesrvFlag(),
			&cli.StringFlag{Name: "topic", Aliases: []string{"t"}, Usage: "topic name", Required: true},
			&cli.StringFlag{Name: "broker", Aliases: []string{"b"}, Usage: "only this broker name"},
			&cli.IntFlag{Name: "qid", Aliases: []string{"i"}, Value: -1, Usage: "only this queue id"},
			&cli.Int64Flag{Name: "offset", Aliases: []string{"o"}, Value: -1, Usage: "start offset (default: each queue's min offset)"},
			&cli.IntFlag{Name: "count", Aliases: []string{"c"}, Value: 128, Usage: "how many messages at most"},
		},
		Action: func(c *cli.Context) error {
			return withAdmin(c, func(ctx context.Context, a *admin.Admin) error {
				msgs, err := a.PullMessages(ctx, c.String("topic"), c.String("broker"), int32(c.Int("qid")), c.Int64("offset"), c.Int("count"))
				if err != nil {
					return err
				}
				if done, err := printJSON(c, msgs); done {
					return err
				}
				for _, m := range msgs {
					fmt.Fprintf(c.App.Writer, "%s %d %d tags=%q keys=%q body=%q\n", m.BrokerName, m.QueueID, m.QueueOffset,
						m.Tags(), m.Properties["KEYS"], m.Body)
				}
				fmt.Fprintf(c.App.Writer, "%d messages\n", len(msgs))
				return nil
			})
		},
	}
}

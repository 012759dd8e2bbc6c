package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/skiffmq/skiff/client/admin"
	"github.com/skiffmq/skiff/internal/message"
)

func printMessage(w io.Writer, m *message.Message) {
	fmt.Fprintf(w, "%-20s %s\n%-20s %s\n%-20s %d\n%-20s %d\n%-20s %q\n%-20s %q\n%-20s %s\n%-20s %d\n%-20s %q\n\n",
		"OffsetID:", message.OffsetMsgID(m.StoreHost, m.CommitLogOffset), "Topic:", m.Topic, "QueueId:", m.QueueID,
		"QueueOffset:", m.QueueOffset, "Tags:", m.Tags(), "Keys:", m.Properties[message.PropertyKeys],
		"Store Timestamp:", time.UnixMilli(m.StoreTimestamp).Format("2006-01-02 15:04:05.000"),
		"Reconsume Times:", m.ReconsumeTimes, "Message Body:", m.Body)
}

func queryMsgByIDCommand() *cli.Command {
	return &cli.Command{
		Name:  "queryMsgById",
		Usage: "show a message by its offset message id",
		Flags: []cli.Flag{namesrvFlag(),
			&cli.StringFlag{Name: "msgId", Aliases: []string{"i"}, Required: true, Usage: "offset message id (32 or 56 hex characters)"}},
		Action: func(c *cli.Context) error {
			return withAdmin(c, func(ctx context.Context, a *admin.Admin) error {
				m, err := a.ViewMessage(ctx, c.String("msgId"))
				if err != nil {
					return err
				}
				if done, err := printJSON(c, m); done {
					return err
				}
				printMessage(c.App.Writer, m)
				return nil
			})
		},
	}
}

func queryByKeyCommand(name string, unique bool) *cli.Command {
	keyFlag := &cli.StringFlag{Name: "msgKey", Aliases: []string{"k"}, Required: true, Usage: "message key"}
	if unique {
		keyFlag = &cli.StringFlag{Name: "msgId", Aliases: []string{"i"}, Required: true, Usage: "unique key (UNIQ_KEY)"}
	}
	return &cli.Command{
		Name:  name,
		Usage: map[bool]string{false: "find messages by key", true: "find a message by its unique key"}[unique],
		Flags: []cli.Flag{namesrvFlag(), keyFlag,
			&cli.StringFlag{Name: "topic", Aliases: []string{"t"}, Required: true, Usage: "topic"},
			&cli.IntFlag{Name: "maxNum", Aliases: []string{"m"}, Value: 64, Usage: "at most this many"}},
		Action: func(c *cli.Context) error {
			return withAdmin(c, func(ctx context.Context, a *admin.Admin) error {
				key := c.String("msgKey")
				if unique {
					key = c.String("msgId")
				}
				msgs, err := a.QueryByKey(ctx, c.String("topic"), key, unique, c.Int("maxNum"), 0, time.Now().UnixMilli()+60000)
				if err != nil {
					return err
				}
				if len(msgs) == 0 {
					return fmt.Errorf("no message with key %q in topic %s", key, c.String("topic"))
				}
				if done, err := printJSON(c, msgs); done {
					return err
				}
				for _, m := range msgs {
					printMessage(c.App.Writer, m)
				}
				return nil
			})
		},
	}
}

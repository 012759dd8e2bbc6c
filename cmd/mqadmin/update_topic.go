package main

import (
	"context"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/skiffmq/skiff/client/admin"
)

func updateTopicCommand() *cli.Command {
	return &cli.Command{
		Name:  "updateTopic",
		Usage: "create or update a topic on one broker (-b) or every master of a cluster (-c)",
		Flags: []cli.Flag{
			namesrvFlag(),
			&cli.StringFlag{Name: "topic", Aliases: []string{"t"}, Usage: "topic name", Required: true},
			&cli.StringFlag{Name: "brokerAddr", Aliases: []string{"b"}, Usage: "create on this broker (ip:port)"},
			&cli.StringFlag{Name: "clusterName", Aliases: []string{"c"}, Usage: "create on every master of this cluster"},
			&cli.IntFlag{Name: "readQueueNums", Aliases: []string{"r"}, Value: 8, Usage: "read queue count"},
			&cli.IntFlag{Name: "writeQueueNums", Aliases: []string{"w"}, Value: 8, Usage: "write queue count"},
			&cli.IntFlag{Name: "perm", Aliases: []string{"p"}, Value: 6, Usage: "permission: 2 write, 4 read, 6 read+write"},
			&cli.BoolFlag{Name: "order", Aliases: []string{"o"}, Usage: "ordered topic"},
		},
		Action: func(c *cli.Context) error {
			return withAdmin(c, func(ctx context.Context, a *admin.Admin) error {
				tc := admin.TopicConfig{
					TopicName:       c.String("topic"),
					ReadQueueNums:   int32(c.Int("readQueueNums")),
					WriteQueueNums:  int32(c.Int("writeQueueNums")),
					Perm:            int32(c.Int("perm")),
					TopicFilterType: "SINGLE_TAG",
					Order:           c.Bool("order"),
				}
				if tc.ReadQueueNums <= 0 || tc.WriteQueueNums <= 0 || tc.ReadQueueNums > 1024 || tc.WriteQueueNums > 1024 {
					return fmt.Errorf("queue numbers must be 1..1024 (-r %d, -w %d)", tc.ReadQueueNums, tc.WriteQueueNums)
				}
				if tc.Perm != 2 && tc.Perm != 4 && tc.Perm != 6 {
					return fmt.Errorf("-p %d: perm must be 2 (write), 4 (read) or 6 (read+write)", tc.Perm)
				}
				addrs, err := targets(ctx, c, a)
				if err != nil {
					return err
				}
				for _, addr := range addrs {
					if err := a.CreateTopic(ctx, addr, tc); err != nil {
						return err
					}
					fmt.Fprintf(c.App.Writer, "create topic to %s success.\n", addr)
				}
				fmt.Fprintln(c.App.Writer, topicConfigString(tc))
				return nil
			})
		},
	}
}

// topicConfigString prints a TopicConfig the way RocketMQ's TopicConfig.toString does.
func topicConfigString(tc admin.TopicConfig) string {
	return fmt.Sprintf("TopicConfig [topicName=%s, readQueueNums=%d, writeQueueNums=%d, perm=%s, topicFilterType=%s, topicSysFlag=%d, order=%t]",
		tc.TopicName, tc.ReadQueueNums, tc.WriteQueueNums, permString(tc.Perm), tc.TopicFilterType, tc.TopicSysFlag, tc.Order)
}

// permString is RocketMQ's PermName.perm2String: R, W, X (inherit) or '-'.
func permString(p int32) string {
	b := []byte("---")
	if p&admin.PermRead != 0 {
		b[0] = 'R'
	}
	if p&admin.PermWrite != 0 {
		b[1] = 'W'
	}
	if p&admin.PermInherit != 0 {
		b[2] = 'X'
	}
	return string(b)
}

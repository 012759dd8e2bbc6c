package main

import (
	"context"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/skiffmq/skiff/client/admin"
)

func deleteTopicCommand() *cli.Command {
	return &cli.Command{
		Name:  "deleteTopic",
		Usage: "delete a topic from every master of a cluster and from every name server",
		Flags: []cli.Flag{
			namesrvFlag(),
			&cli.StringFlag{Name: "topic", Aliases: []string{"t"}, Usage: "topic name", Required: true},
			&cli.StringFlag{Name: "clusterName", Aliases: []string{"c"}, Usage: "cluster name", Required: true},
		},
		Action: func(c *cli.Context) error {
			return withAdmin(c, func(ctx context.Context, a *admin.Admin) error {
				topic, cluster := c.String("topic"), c.String("clusterName")
				if err := a.DeleteTopic(ctx, cluster, topic); err != nil {
					return err
				}
				fmt.Fprintf(c.App.Writer, "delete topic [%s] from cluster [%s] success.\n", topic, cluster)
				fmt.Fprintf(c.App.Writer, "delete topic [%s] from NameServer success.\n", topic)
				return nil
			})
		},
	}
}

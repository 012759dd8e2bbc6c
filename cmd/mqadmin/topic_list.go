package main

import (
	"context"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/skiffmq/skiff/client/admin"
)

func topicListCommand() *cli.Command {
	return &cli.Command{
		Name:  "topicList",
		Usage: "list every topic the name server knows, one per line",
		Flags: []cli.Flag{namesrvFlag()},
		Action: func(c *cli.Context) error {
			return withAdmin(c, func(ctx context.Context, a *admin.Admin) error {
				topics, err := a.TopicList(ctx)
				if err != nil {
					return err
				}
				if done, err := printJSON(c, map[string][]string{"topicList": topics}); done {
					return err
				}
				for _, t := range topics {
					fmt.Fprintln(c.App.Writer, t)
				}
				return nil
			})
		},
	}
}

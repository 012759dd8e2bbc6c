package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/skiffmq/skiff/client/admin"
)

func topicRouteCommand() *cli.Command {
	return &cli.Command{
		Name:  "topicRoute",
		Usage: "print a topic's route as JSON",
		Flags: []cli.Flag{
			namesrvFlag(),
			&cli.StringFlag{Name: "topic", Aliases: []string{"t"}, Usage: "topic name", Required: true},
		},
		Action: func(c *cli.Context) error {
			return withAdmin(c, func(ctx context.Context, a *admin.Admin) error {
				r, err := a.TopicRoute(ctx, c.String("topic"))
				if err != nil {
					return err
				}
				if r.FilterServerTable == nil {
					r.FilterServerTable = map[string][]string{}
				}
				b, err := json.MarshalIndent(r, "", "  ")
				if err != nil {
					return fmt.Errorf("encode route: %w", err)
				}
				fmt.Fprintln(c.App.Writer, string(b))
				return nil
			})
		},
	}
}

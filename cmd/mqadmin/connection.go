package main

import (
	"context"
	"fmt"
	"sort"

	"github.com/urfave/cli/v2"

	"github.com/skiffmq/skiff/client/admin"
)

// groupBrokers finds the masters of a consumer group through the route of %RETRY%<group>.
func groupBrokers(ctx context.Context, a *admin.Admin, group string) ([]string, error) {
	route, err := a.TopicRoute(ctx, "%RETRY%"+group)
	if err != nil {
		return nil, fmt.Errorf("consumer group %s has no brokers (no route for %%RETRY%%%s): %w", group, group, err)
	}
	var out []string
	for _, bd := range route.BrokerDatas {
		if addr := bd.MasterAddr(); addr != "" {
			out = append(out, addr)
		}
	}
	sort.Strings(out)
	return out, nil
}

func consumerConnectionCommand() *cli.Command {
	return &cli.Command{
		Name:  "consumerConnection",
		Usage: "list the clients of a consumer group and their subscriptions",
		Flags: []cli.Flag{namesrvFlag(),
			&cli.StringFlag{Name: "consumerGroup", Aliases: []string{"g"}, Required: true, Usage: "consumer group"},
			&cli.StringFlag{Name: "brokerAddr", Aliases: []string{"b"}, Usage: "ask this broker only"}},
		Action: func(c *cli.Context) error {
			return withAdmin(c, func(ctx context.Context, a *admin.Admin) error {
				addrs := []string{c.String("brokerAddr")}
				if addrs[0] == "" {
					var err error
					if addrs, err = groupBrokers(ctx, a, c.String("consumerGroup")); err != nil {
						return err
					}
				}
				var lastErr error
				for _, addr := range addrs {
					cc, err := a.ConsumerConnection(ctx, addr, c.String("consumerGroup"))
					if err != nil {
						lastErr = err
						continue
					}
					if done, err := printJSON(c, cc); done {
						return err
					}
					w := c.App.Writer
					fmt.Fprintf(w, "%-36s %-22s %-10s %s\n", "#ClientId", "#ClientAddr", "#Language", "#Version")
					for _, cn := range cc.ConnectionSet {
						fmt.Fprintf(w, "%-36s %-22s %-10s %d\n", cn.ClientID, cn.ClientAddr, cn.Language, cn.Version)
					}
					fmt.Fprintf(w, "\n%-48s %s\n", "#Topic", "#SubExpression")
					topics := make([]string, 0, len(cc.SubscriptionTable))
					for t := range cc.SubscriptionTable {
						topics = append(topics, t)
					}
					sort.Strings(topics)
					for _, t := range topics {
						var sd struct {
							SubString string `json:"subString"`
						}
						_ = admin.Unmarshal(cc.SubscriptionTable[t], &sd)
						fmt.Fprintf(w, "%-48s %s\n", t, sd.SubString)
					}
					fmt.Fprintf(w, "\nConsumeType: %s\nMessageModel: %s\nConsumeFromWhere: %s\n", cc.ConsumeType, cc.MessageModel, cc.ConsumeFromWhere)
					return nil
				}
				return lastErr
			})
		},
	}
}

func producerConnectionCommand() *cli.Command {
	return &cli.Command{
		Name:  "producerConnection",
		Usage: "list the clients of a producer group",
		Flags: []cli.Flag{namesrvFlag(),
			&cli.StringFlag{Name: "producerGroup", Aliases: []string{"g"}, Required: true, Usage: "producer group"},
			&cli.StringFlag{Name: "topic", Aliases: []string{"t"}, Required: true, Usage: "a topic the group sends to (finds its brokers)"}},
		Action: func(c *cli.Context) error {
			return withAdmin(c, func(ctx context.Context, a *admin.Admin) error {
				route, err := a.TopicRoute(ctx, c.String("topic"))
				if err != nil {
					return err
				}
				n := 0
				var lastErr error
				for _, bd := range route.BrokerDatas {
					conns, err := a.ProducerConnection(ctx, bd.MasterAddr(), c.String("producerGroup"))
					if err != nil {
						lastErr = err
						continue
					}
					if c.Bool("json") {
						n += len(conns)
						if _, err := printJSON(c, conns); err != nil {
							return err
						}
						continue
					}
					for _, cn := range conns {
						n++
						fmt.Fprintf(c.App.Writer, "%04d  %-36s %-22s %-10s %d\n", n, cn.ClientID, cn.ClientAddr, cn.Language, cn.Version)
					}
				}
				if n == 0 && lastErr != nil {
					return lastErr
				}
				return nil
			})
		},
	}
}

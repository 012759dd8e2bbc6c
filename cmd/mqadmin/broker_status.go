package main

import (
	"context"
	"fmt"
	"sort"

	"github.com/urfave/cli/v2"

	"github.com/skiffmq/skiff/client/admin"
)

func brokerStatusCommand() *cli.Command {
	return &cli.Command{
		Name:  "brokerStatus",
		Usage: "print a broker's runtime statistics (key : value lines)",
		Flags: []cli.Flag{
			namesrvFlag(),
			&cli.StringFlag{Name: "brokerAddr", Aliases: []string{"b"}, Usage: "broker address (ip:port)"},
			&cli.StringFlag{Name: "clusterName", Aliases: []string{"c"}, Usage: "every master of this cluster"},
		},
		Action: func(c *cli.Context) error {
			return withAdmin(c, func(ctx context.Context, a *admin.Admin) error {
				addrs, err := targets(ctx, c, a)
				if err != nil {
					return err
				}
				all := map[string]map[string]string{}
				for _, addr := range addrs {
					kv, err := a.BrokerRuntimeInfo(ctx, addr)
					if err != nil {
						return err
					}
					if c.Bool("json") {
						all[addr] = kv
						continue
					}
					keys := make([]string, 0, len(kv))
					for k := range kv {
						keys = append(keys, k)
					}
					sort.Strings(keys)
					for _, k := range keys {
						if len(addrs) > 1 {
							fmt.Fprintf(c.App.Writer, "%-24s %-32s: %s\n", addr, k, kv[k])
						} else {
							fmt.Fprintf(c.App.Writer, "%-32s: %s\n", k, kv[k])
						}
					}
				}
				if _, err := printJSON(c, all); err != nil {
					return err
				}
				return nil
			})
		},
	}
}

package main

import (
	"context"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/skiffmq/skiff/client/admin"
)

func targetFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "brokerAddr", Aliases: []string{"b"}, Usage: "one broker `ip:port`"},
		&cli.StringFlag{Name: "clusterName", Aliases: []string{"c"}, Usage: "every master of this cluster"},
	}
}

func updateSubGroupCommand() *cli.Command {
	return &cli.Command{
		Name:  "updateSubGroup",
		Usage: "create or update a subscription group",
		Flags: append([]cli.Flag{namesrvFlag(),
			&cli.StringFlag{Name: "groupName", Aliases: []string{"g"}, Required: true, Usage: "group name"},
			&cli.IntFlag{Name: "retryQueueNums", Aliases: []string{"q"}, Value: 1, Usage: "retry queues"},
			&cli.IntFlag{Name: "retryMaxTimes", Aliases: []string{"r"}, Value: 16, Usage: "reconsume times before the DLQ"},
			&cli.BoolFlag{Name: "consumeEnable", Aliases: []string{"s"}, Value: true, Usage: "consumption allowed"},
			&cli.BoolFlag{Name: "consumeBroadcastEnable", Aliases: []string{"d"}, Value: true, Usage: "broadcasting allowed"},
		}, targetFlags()...),
		Action: func(c *cli.Context) error {
			return withAdmin(c, func(ctx context.Context, a *admin.Admin) error {
				addrs, err := targets(ctx, c, a)
				if err != nil {
					return err
				}
				g := admin.DefaultGroupConfig(c.String("groupName"))
				g.RetryQueueNums, g.RetryMaxTimes = int32(c.Int("retryQueueNums")), int32(c.Int("retryMaxTimes"))
				g.ConsumeEnable, g.ConsumeBroadcastEnable = c.Bool("consumeEnable"), c.Bool("consumeBroadcastEnable")
				for _, addr := range addrs {
					if err := a.UpdateSubGroup(ctx, addr, g); err != nil {
						return err
					}
					fmt.Fprintf(c.App.Writer, "create subscription group to %s success.\n", addr)
				}
				return nil
			})
		},
	}
}

func deleteSubGroupCommand() *cli.Command {
	return &cli.Command{
		Name:  "deleteSubGroup",
		Usage: "delete a subscription group",
		Flags: append([]cli.Flag{namesrvFlag(),
			&cli.StringFlag{Name: "groupName", Aliases: []string{"g"}, Required: true, Usage: "group name"},
			&cli.BoolFlag{Name: "removeOffset", Aliases: []string{"r"}, Usage: "also remove its consumer offsets"},
		}, targetFlags()...),
		Action: func(c *cli.Context) error {
			return withAdmin(c, func(ctx context.Context, a *admin.Admin) error {
				addrs, err := targets(ctx, c, a)
				if err != nil {
					return err
				}
				for _, addr := range addrs {
					if err := a.DeleteSubGroup(ctx, addr, c.String("groupName"), c.Bool("removeOffset")); err != nil {
						return err
					}
					fmt.Fprintf(c.App.Writer, "delete subscription group [%s] from broker [%s] success.\n", c.String("groupName"), addr)
				}
				return nil
			})
		},
	}
}

func getBrokerConfigCommand() *cli.Command {
	return &cli.Command{
		Name:  "getBrokerConfig",
		Usage: "print a broker's configuration",
		Flags: append([]cli.Flag{namesrvFlag()}, targetFlags()...),
		Action: func(c *cli.Context) error {
			return withAdmin(c, func(ctx context.Context, a *admin.Admin) error {
				addrs, err := targets(ctx, c, a)
				if err != nil {
					return err
				}
				for _, addr := range addrs {
					cfg, err := a.BrokerConfig(ctx, addr)
					if err != nil {
						return err
					}
					fmt.Fprintf(c.App.Writer, "============%s============\n%s", addr, cfg)
				}
				return nil
			})
		},
	}
}

func writePermCommand(name string, wipe bool) *cli.Command {
	usage := "restore the write permission of a broker name on every name server"
	if wipe {
		usage = "remove the write permission of a broker name on every name server (drain it)"
	}
	return &cli.Command{
		Name:  name,
		Usage: usage,
		Flags: []cli.Flag{namesrvFlag(),
			&cli.StringFlag{Name: "brokerName", Aliases: []string{"b"}, Required: true, Usage: "broker name"}},
		Action: func(c *cli.Context) error {
			return withAdmin(c, func(ctx context.Context, a *admin.Admin) error {
				counts, err := a.WritePerm(ctx, c.String("brokerName"), wipe)
				if err != nil {
					return err
				}
				for ns, n := range counts {
					fmt.Fprintf(c.App.Writer, "%s write perm of broker[%s] in name server[%s] OK, %d topics\n", name, c.String("brokerName"), ns, n)
				}
				return nil
			})
		},
	}
}

func updateBrokerConfigCommand() *cli.Command {
	return &cli.Command{
		Name:  "updateBrokerConfig",
		Usage: "change a configuration key of running brokers (not written to their files)",
		Flags: append([]cli.Flag{namesrvFlag(),
			&cli.StringFlag{Name: "key", Aliases: []string{"k"}, Required: true, Usage: "config key"},
			&cli.StringFlag{Name: "value", Aliases: []string{"v"}, Required: true, Usage: "new value"},
		}, targetFlags()...),
		Action: func(c *cli.Context) error {
			return withAdmin(c, func(ctx context.Context, a *admin.Admin) error {
				addrs, err := targets(ctx, c, a)
				if err != nil {
					return err
				}
				for _, addr := range addrs {
					if err := a.UpdateBrokerConfig(ctx, addr, map[string]string{c.String("key"): c.String("value")}); err != nil {
						return err
					}
					fmt.Fprintf(c.App.Writer, "update broker config success, %s\n", addr)
				}
				return nil
			})
		},
	}
}

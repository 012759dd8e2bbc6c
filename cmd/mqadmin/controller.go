package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/skiffmq/skiff/client/admin"
)

// The controller commands (RocketMQ 5 controller mode). -n (or -a, RocketMQ's controllerAddress)
// names the name servers that run the controller; any of them answers.

func controllerAddrFlag() cli.Flag {
	return &cli.StringFlag{Name: "controllerAddress", Aliases: []string{"a"}, Usage: "name servers running the controller `ip:port;ip:port` (default: -n)"}
}

// withController is withAdmin with -a taking the place of -n when given.
func withController(c *cli.Context, fn func(ctx context.Context, a *admin.Admin) error) error {
	if v := c.String("controllerAddress"); strings.TrimSpace(v) != "" {
		if err := c.Set("namesrvAddr", v); err != nil {
			return err
		}
	}
	return withAdmin(c, fn)
}

func writeJSON(c *cli.Context, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	fmt.Fprintln(c.App.Writer, string(b))
	return nil
}

func getSyncStateSetCommand() *cli.Command {
	return &cli.Command{
		Name:  "getSyncStateSet",
		Usage: "print the master, master epoch and SyncStateSet of broker sets (controller mode)",
		Flags: []cli.Flag{namesrvFlag(), controllerAddrFlag(),
			&cli.StringFlag{Name: "brokerName", Aliases: []string{"b"}, Usage: "broker set (default: every set)"}},
		Action: func(c *cli.Context) error {
			return withController(c, func(ctx context.Context, a *admin.Admin) error {
				var names []string
				if n := c.String("brokerName"); n != "" {
					names = []string{n}
				}
				m, err := a.SyncStateSets(ctx, names...)
				if err != nil {
					return err
				}
				if len(names) == 1 {
					if _, ok := m[names[0]]; !ok {
						return fmt.Errorf("getSyncStateSet: the controller knows no broker set %q", names[0])
					}
				}
				keys := make([]string, 0, len(m))
				for k := range m {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				out := make([]admin.SyncStateInfo, 0, len(keys))
				for _, k := range keys {
					out = append(out, m[k])
				}
				return writeJSON(c, out)
			})
		},
	}
}

func getControllerMetaDataCommand() *cli.Command {
	return &cli.Command{
		Name:  "getControllerMetaData",
		Usage: "print the controller group: leader, peers, whether the asked node leads",
		Flags: []cli.Flag{namesrvFlag(), controllerAddrFlag()},
		Action: func(c *cli.Context) error {
			return withController(c, func(ctx context.Context, a *admin.Admin) error {
				md, err := a.ControllerMetadata(ctx)
				if err != nil {
					return err
				}
				return writeJSON(c, md)
			})
		},
	}
}

func electMasterCommand() *cli.Command {
	return &cli.Command{
		Name:  "electMaster",
		Usage: "hand a broker set's master role to a replica of its SyncStateSet (planned switch)",
		Flags: []cli.Flag{namesrvFlag(), controllerAddrFlag(),
			&cli.StringFlag{Name: "brokerName", Aliases: []string{"b"}, Usage: "broker set", Required: true},
			&cli.Int64Flag{Name: "brokerId", Aliases: []string{"i"}, Usage: "replica id of the new master (0: the controller chooses)"}},
		Action: func(c *cli.Context) error {
			return withController(c, func(ctx context.Context, a *admin.Admin) error {
				info, err := a.ElectMaster(ctx, c.String("brokerName"), c.Int64("brokerId"))
				if err != nil {
					return fmt.Errorf("electMaster %s -i %d: %w", c.String("brokerName"), c.Int64("brokerId"), err)
				}
				return writeJSON(c, info)
			})
		},
	}
}

func getBrokerEpochCommand() *cli.Command {
	return &cli.Command{
		Name:  "getBrokerEpoch",
		Usage: "print the epoch files of a broker set's replicas (controller mode)",
		Flags: []cli.Flag{namesrvFlag(), controllerAddrFlag(),
			&cli.StringFlag{Name: "brokerName", Aliases: []string{"b"}, Usage: "broker set (its replicas come from the controller)"},
			&cli.StringFlag{Name: "brokerAddr", Usage: "one broker `ip:port` instead"}},
		Action: func(c *cli.Context) error {
			return withController(c, func(ctx context.Context, a *admin.Admin) error {
				var addrs []string
				if addr := c.String("brokerAddr"); addr != "" {
					addrs = []string{addr}
				} else if name := c.String("brokerName"); name != "" {
					m, err := a.SyncStateSets(ctx, name)
					if err != nil {
						return err
					}
					set, ok := m[name]
					if !ok {
						return fmt.Errorf("getBrokerEpoch: the controller knows no broker set %q", name)
					}
					for _, r := range set.Replicas {
						addrs = append(addrs, r.BrokerAddr)
					}
				} else {
					return fmt.Errorf("getBrokerEpoch: give -b brokerName or --brokerAddr")
				}
				out := []admin.BrokerEpoch{}
				var errs []string
				for _, addr := range addrs {
					e, err := a.BrokerEpoch(ctx, addr)
					if err != nil {
						errs = append(errs, fmt.Sprintf("%s: %v", addr, err))
						continue
					}
					out = append(out, e)
				}
				if err := writeJSON(c, out); err != nil {
					return err
				}
				if len(errs) > 0 {
					return fmt.Errorf("getBrokerEpoch: %s", strings.Join(errs, "; "))
				}
				return nil
			})
		},
	}
}

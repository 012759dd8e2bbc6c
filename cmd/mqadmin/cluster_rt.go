package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
)

// rtRow is one broker's clusterRT result.
type rtRow struct {
	Cluster    string  `json:"cluster"`
	BrokerName string  `json:"brokerName"`
	AvgRTms    float64 `json:"avgRtMs"`
	Success    int     `json:"successCount"`
	Fail       int     `json:"failCount"`
}

func clusterRTCommand() *cli.Command {
	return &cli.Command{
		Name:  "clusterRT",
		Usage: "measure send round-trip time to every broker set (topic = broker name)",
		Flags: []cli.Flag{namesrvFlag(),
			&cli.IntFlag{Name: "amount", Aliases: []string{"a"}, Value: 100, Usage: "messages per broker"},
			&cli.IntFlag{Name: "size", Aliases: []string{"s"}, Value: 128, Usage: "message size in bytes"},
			&cli.StringFlag{Name: "clusterName", Aliases: []string{"c"}, Usage: "only this cluster"},
		},
		Action: func(c *cli.Context) error {
			if c.Int("amount") <= 0 || c.Int("size") < 0 {
				return fmt.Errorf("-a must be positive and -s not negative (got %d, %d)", c.Int("amount"), c.Int("size"))
			}
			a, err := newAdmin(c)
			if err != nil {
				return err
			}
			defer a.Close()
			ctx, cancel := context.WithTimeout(c.Context, callTimeout+time.Duration(c.Int("amount"))*time.Second)
			defer cancel()
			ci, err := a.ClusterInfo(ctx)
			if err != nil {
				return err
			}
			body := []byte(strings.Repeat("x", c.Int("size")))
			var rows []rtRow
			for cluster, names := range ci.ClusterAddrTable {
				if only := c.String("clusterName"); only != "" && cluster != only {
					continue
				}
				for _, name := range names {
					r := rtRow{Cluster: cluster, BrokerName: name}
					var total time.Duration
					for i := 0; i < c.Int("amount"); i++ {
						t0 := time.Now()
						if _, err := a.SendMessage(ctx, name, body, "", "", name, -1); err != nil {
							r.Fail++
							continue
						}
						total += time.Since(t0)
						r.Success++
					}
					if r.Success > 0 {
						r.AvgRTms = float64(total.Microseconds()) / 1000 / float64(r.Success)
					}
					rows = append(rows, r)
				}
			}
			sort.Slice(rows, func(i, j int) bool { return rows[i].Cluster+rows[i].BrokerName < rows[j].Cluster+rows[j].BrokerName })
			if done, err := printJSON(c, rows); done {
				return err
			}
			fmt.Fprintf(c.App.Writer, "%-24s %-24s %-10s %-14s %s\n", "#Cluster Name", "#Broker Name", "#RT(ms)", "#successCount", "#failCount")
			for _, r := range rows {
				fmt.Fprintf(c.App.Writer, "%-24s %-24s %-10.2f %-14d %d\n", r.Cluster, r.BrokerName, r.AvgRTms, r.Success, r.Fail)
			}
			return nil
		},
	}
}

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/skiffmq/skiff/client/admin"
)

func clusterListCommand() *cli.Command {
	return &cli.Command{
		Name:  "clusterList",
		Usage: "list clusters, their brokers, versions, TPS and disk use",
		Flags: []cli.Flag{
			namesrvFlag(),
			&cli.StringFlag{Name: "clusterName", Aliases: []string{"c"}, Usage: "only this cluster"},
		},
		Action: func(c *cli.Context) error {
			return withAdmin(c, func(ctx context.Context, a *admin.Admin) error {
				return clusterList(ctx, a, c.String("clusterName"), c.App.Writer, c.Bool("json"))
			})
		},
	}
}

// clusterListFormat is RocketMQ's clusterList row layout plus Skiff's #Role and #Lag(bytes)
// columns: each broker's role and, for a slave, how many commit-log bytes it is behind its master.
const clusterListFormat = "%-16s  %-22s  %-4s  %-22s %-16s %19s %19s %10s %5s %-10s %-13s %s\n"

func clusterList(ctx context.Context, a *admin.Admin, only string, w io.Writer, asJSON bool) error {
	ci, err := a.ClusterInfo(ctx)
	if err != nil {
		return err
	}
	if only != "" {
		if _, ok := ci.ClusterAddrTable[only]; !ok {
			return fmt.Errorf("cluster %q not found", only)
		}
	}
	var rows []clusterRow
	for _, cluster := range ci.ClusterNames() {
		if only != "" && cluster != only {
			continue
		}
		names := append([]string(nil), ci.ClusterAddrTable[cluster]...)
		sort.Strings(names)
		for _, name := range names {
			bd := ci.BrokerAddrTable[name]
			ids := make([]int64, 0, len(bd.BrokerAddrs))
			for id := range bd.BrokerAddrs {
				ids = append(ids, id)
			}
			sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
			masterMax := int64(-1)
			for _, id := range ids {
				addr := bd.BrokerAddrs[id]
				version, in, out, pcWait, hour, space, role, lag := "", "", "", "", "", "", "", "-"
				kv, err := a.BrokerRuntimeInfo(ctx, addr)
				if err == nil {
					role = kv["brokerRole"]
					maxOff, perr := strconv.ParseInt(kv["commitLogMaxOffset"], 10, 64)
					switch {
					case id == 0 && perr == nil:
						masterMax = maxOff
					case id != 0 && perr == nil && masterMax >= 0:
						lag = strconv.FormatInt(max(masterMax-maxOff, 0), 10)
					case id != 0 && kv["haReplicationLagBytes"] != "":
						lag = kv["haReplicationLagBytes"]
					}
					version = kv["brokerVersionDesc"]
					in = fmt.Sprintf("%9.2f(0,0ms)", firstFloat(kv["putTps"]))
					out = fmt.Sprintf("%9.2f(0,0ms)", firstFloat(kv["getTransferedTps"]))
					pcWait = kv["pageCacheLockTimeMills"]
					hour = hours(kv["earliestMessageTimeStamp"])
					space = kv["commitLogDiskRatio"]
				} else {
					version = "unreachable"
				}
				rows = append(rows, clusterRow{cluster, name, id, addr, version, in, out, pcWait, hour, space, role, lag})
			}
		}
	}
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	}
	fmt.Fprintf(w, clusterListFormat, "#Cluster Name", "#Broker Name", "#BID", "#Addr", "#Version",
		"#InTPS(LOAD)", "#OutTPS(LOAD)", "#PCWait(ms)", "#Hour", "#SPACE", "#Role", "#Lag(bytes)")
	for _, r := range rows {
		fmt.Fprintf(w, clusterListFormat, r.Cluster, r.BrokerName, strconv.FormatInt(r.BrokerID, 10), r.Addr, r.Version,
			r.InTPS, r.OutTPS, r.PCWait, r.Hour, r.Space, r.Role, r.Lag)
	}
	return nil
}

// clusterRow is one broker of clusterList.
type clusterRow struct {
	Cluster    string `json:"cluster"`
	BrokerName string `json:"brokerName"`
	BrokerID   int64  `json:"brokerId"`
	Addr       string `json:"addr"`
	Version    string `json:"version"`
	InTPS      string `json:"inTps"`
	OutTPS     string `json:"outTps"`
	PCWait     string `json:"pageCacheLockTimeMills"`
	Hour       string `json:"hours"`
	Space      string `json:"commitLogDiskRatio"`
	Role       string `json:"role"`
	Lag        string `json:"replicationLagBytes"`
}

// firstFloat parses the first number of a "1.00 2.00 3.00" TPS string.
func firstFloat(s string) float64 {
	f := strings.Fields(s)
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

// hours is the age in hours of the earliest stored message (ms timestamp).
func hours(ms string) string {
	ts, err := strconv.ParseInt(ms, 10, 64)
	if err != nil || ts <= 0 {
		return "0.00"
	}
	return fmt.Sprintf("%.2f", float64(time.Now().UnixMilli()-ts)/3600000)
}

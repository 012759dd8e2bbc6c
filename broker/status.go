package broker

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/skiffmq/skiff/internal/protocol"
	"github.com/skiffmq/skiff/internal/remoting"
	"github.com/skiffmq/skiff/internal/remoting/server"
)

// The broker's own status requests: connection listings of its client manager, runtime info (the
// KV table), and its configuration. Topic, group, offset and message admin requests are served
// by processor.Admin.

func jsonBody(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

type connectionJSON struct {
	ClientAddr string `json:"clientAddr"`
	ClientID   string `json:"clientId"`
	Language   string `json:"language"`
	Version    int32  `json:"version"`
}

func toConnections(chs []clientChannel) []connectionJSON {
	out := make([]connectionJSON, 0, len(chs))
	for _, ch := range chs {
		out = append(out, connectionJSON{ClientAddr: ch.conn.RemoteAddr(), ClientID: ch.clientID, Language: ch.language, Version: ch.version})
	}
	return out
}

func (b *Broker) handleConsumerConnections(_ context.Context, _ *server.Conn, req *remoting.Command) *remoting.Command {
	f := protocol.ReadFields(req.RawExt())
	group := f.Str("consumerGroup", true)
	if err := f.Err(); err != nil {
		return errResp(req, remoting.SystemError, "%v", err)
	}
	gi, ok := b.clients.consumerGroupInfo(group)
	if !ok || len(gi.channels) == 0 {
		return errResp(req, remoting.ConsumerNotOnline, "the consumer group[%s] not online", group)
	}
	subs := map[string]SubscriptionData{}
	for _, s := range gi.subs {
		subs[s.Topic] = s
	}
	body := map[string]any{
		"connectionSet": toConnections(gi.channels), "consumeType": gi.consumeType,
		"messageModel": gi.messageModel, "consumeFromWhere": gi.consumeFromWhere, "subscriptionTable": subs,
	}
	return respond(req, remoting.Success, "", nil, jsonBody(body))
}

func (b *Broker) handleProducerConnections(_ context.Context, _ *server.Conn, req *remoting.Command) *remoting.Command {
	f := protocol.ReadFields(req.RawExt())
	group := f.Str("producerGroup", true)
	if err := f.Err(); err != nil {
		return errResp(req, remoting.SystemError, "%v", err)
	}
	chs := b.clients.producerChannels(group)
	if len(chs) == 0 {
		return errResp(req, remoting.SystemError, "the producer group[%s] not exist", group)
	}
	return respond(req, remoting.Success, "", nil, jsonBody(map[string]any{"connectionSet": toConnections(chs)}))
}

// handleRuntimeInfo answers GET_BROKER_RUNTIME_INFO with the KVTable mqadmin clusterList and
// brokerStatus read (§2.12).
func (b *Broker) handleRuntimeInfo(_ context.Context, _ *server.Conn, req *remoting.Command) *remoting.Command {
	return respond(req, remoting.Success, "", nil, jsonBody(map[string]any{"table": b.runtimeTable()}))
}

// runtimeTable is the runtime KV table (also served as /api/runtime).
func (b *Broker) runtimeTable() map[string]string {
	put, get := b.stats.rates()
	st := b.store.Stats()
	table := map[string]string{
		"brokerVersionDesc":               "Skiff " + Version,
		"brokerVersion":                   strconv.Itoa(int(remoting.CurrentVersion)),
		"brokerRole":                      b.conf().BrokerRole,
		"msgPutTotalTodayNow":             i64s(b.stats.putTotal.Load()),
		"msgGetTotalTodayNow":             i64s(b.stats.getTotal.Load()),
		"msgPutTotalTodayMorning":         "0",
		"msgGetTotalTodayMorning":         "0",
		"msgPutTotalYesterdayMorning":     "0",
		"msgGetTotalYesterdayMorning":     "0",
		"putTps":                          fmt.Sprintf("%.2f %.2f %.2f", put, put, put),
		"getFoundTps":                     fmt.Sprintf("%.2f %.2f %.2f", get, get, get),
		"getTransferedTps":                fmt.Sprintf("%.2f %.2f %.2f", get, get, get),
		"commitLogMaxOffset":              i64s(b.store.MaxPhyOffset()),
		"commitLogMinOffset":              i64s(b.store.MinPhyOffset()),
		"commitLogDiskRatio":              fmt.Sprintf("%.4f", st.DiskRatio),
		"consumeQueueDiskRatio":           fmt.Sprintf("%.4f", st.DiskRatio),
		"pageCacheLockTimeMills":          "0",
		"earliestMessageTimeStamp":        i64s(st.EarliestMessageTime),
		"startAcceptSendRequestTimeStamp": "0",
		"dispatchBehindBytes":             i64s(st.DispatchBehindBytes),
		"putMessageFailedTimes":           i64s(b.stats.putFailures.Load()),
		"storeWriteable":                  strconv.FormatBool(b.store.Writeable()),
	}
	if b.haMaster != nil {
		var slaves []string
		for _, sl := range b.haMaster.Slaves() {
			slaves = append(slaves, fmt.Sprintf("%s:%d", sl.Addr, sl.AckOffset))
		}
		table["haSlaves"] = strings.Join(slaves, ";")
		table["haPushMaxOffset"] = i64s(b.haMaster.PushMax())
	}
	if b.haSlave != nil {
		table["haMasterAddr"] = b.haSlave.MasterAddr()
		table["haConnected"] = strconv.FormatBool(b.haSlave.Connected())
		table["haMasterMaxOffset"] = i64s(b.haSlave.MasterMaxOffset())
		if lag := b.haSlave.MasterMaxOffset() - b.store.MaxPhyOffset(); lag > 0 {
			table["haReplicationLagBytes"] = i64s(lag)
		} else {
			table["haReplicationLagBytes"] = "0"
		}
	}
	return table
}

// handleGetBrokerConfig answers with every config key as properties text (key=value lines).
func (b *Broker) handleGetBrokerConfig(_ context.Context, _ *server.Conn, req *remoting.Command) *remoting.Command {
	return respond(req, remoting.Success, "", nil, []byte(b.conf().Properties()))
}

// Properties renders the configuration as sorted key=value lines with RocketMQ key names.
func (c Config) Properties() string {
	v := reflect.ValueOf(c)
	t := v.Type()
	var lines []string
	for i := 0; i < t.NumField(); i++ {
		key := strings.Split(t.Field(i).Tag.Get("toml"), ",")[0]
		if key == "" || key == "-" {
			continue
		}
		val := v.Field(i).Interface()
		if secretKeys[key] && val != "" {
			val = "******"
		}
		lines = append(lines, fmt.Sprintf("%s=%v", key, val))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n") + "\n"
}

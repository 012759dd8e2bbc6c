package broker

import (
	"context"
	"sort"

	"github.com/skiffmq/skiff/internal/remoting"
	"github.com/skiffmq/skiff/internal/remoting/server"
)

// producerInfoJSON is one producer connection in GET_ALL_PRODUCER_INFO, with RocketMQ 5's field
// names (ProducerInfo).
type producerInfoJSON struct {
	ClientID            string `json:"clientId"`
	RemoteIP            string `json:"remoteIP"`
	Language            string `json:"language"`
	Version             int32  `json:"version"`
	LastUpdateTimestamp int64  `json:"lastUpdateTimestamp"`
}

// handleAllProducerInfo answers GET_ALL_PRODUCER_INFO (328) with every producer group that has a
// live connection and its connections: {"data":{"group":[ProducerInfo...]}} (RocketMQ 5's
// ProducerTableInfo). It reads a copy of the client table taken under its read lock.
func (b *Broker) handleAllProducerInfo(_ context.Context, _ *server.Conn, req *remoting.Command) *remoting.Command {
	data := map[string][]producerInfoJSON{}
	for group, chs := range b.clients.producerTable() {
		list := make([]producerInfoJSON, 0, len(chs))
		for _, ch := range chs {
			list = append(list, producerInfoJSON{ClientID: ch.clientID, RemoteIP: ch.conn.RemoteAddr(), Language: ch.language,
				Version: ch.version, LastUpdateTimestamp: ch.lastUpdate.UnixMilli()})
		}
		data[group] = list
	}
	return respond(req, remoting.Success, "", nil, jsonBody(map[string]any{"data": data}))
}

// producerTable copies every producer group's channels, each list sorted by client id.
func (m *clientManager) producerTable() map[string][]clientChannel {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make(map[string][]clientChannel, len(m.producers))
	for group, chs := range m.producers {
		if len(chs) == 0 {
			continue
		}
		list := make([]clientChannel, 0, len(chs))
		for _, ch := range chs {
			list = append(list, *ch)
		}
		sort.Slice(list, func(i, j int) bool { return list[i].clientID < list[j].clientID })
		out[group] = list
	}
	return out
}

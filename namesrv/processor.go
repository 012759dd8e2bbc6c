package namesrv

import (
	"encoding/json"
	"fmt"
	"hash/crc32"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/skiffmq/skiff/internal/protocol"
	"github.com/skiffmq/skiff/namesrv/routeinfo"
)

// process answers one request. connKey identifies the connection it came on (for registrations).
// It never returns nil: every name-server request gets an answer.
func (s *Server) process(connKey string, req *request) *response {
	switch req.Code {
	case protocol.RegisterBroker:
		return s.registerBroker(connKey, req)
	case protocol.UnregisterBroker:
		return s.unregisterBroker(req)
	case protocol.GetRouteInfoByTopic:
		return s.getRouteInfoByTopic(req)
	case protocol.GetBrokerClusterInfo:
		return s.getBrokerClusterInfo(req)
	case protocol.GetAllTopicListFromNameServer:
		return okBody(req, encodeTopicList(s.table.AllTopics(), ""))
	case protocol.GetTopicsByCluster:
		return s.getTopicsByCluster(req)
	case protocol.GetSystemTopicListFromNS:
		names, addr := s.table.SystemTopics()
		return okBody(req, encodeTopicList(names, addr))
	case protocol.DeleteTopicInNamesrv:
		return s.deleteTopic(req)
	case protocol.WipeWritePermOfBroker, protocol.AddWritePermOfBroker:
		return s.operateWritePerm(req)
	case protocol.PutKVConfig, protocol.GetKVConfig, protocol.DeleteKVConfig, protocol.GetKVListByNamespace:
		return s.kvConfig(req)
	case protocol.QueryDataVersion:
		return s.queryDataVersion(req)
	case protocol.UpdateNamesrvConfig:
		return s.updateConfig(req)
	case protocol.GetNamesrvConfig:
		return okBody(req, []byte(formatProperties(s.configMap())))
	}
	return newResponse(3, fmt.Sprintf(" request type %d not supported", req.Code))
}

func ext(req *request, key string) string {
	if req.ExtFields == nil {
		return ""
	}
	return req.ExtFields[key]
}

// required returns the listed extFields, or a SYSTEM_ERROR response naming the first missing one
// (Java rejects a header whose @CFNotNull field is absent).
func required(req *request, keys ...string) ([]string, *response) {
	vals := make([]string, len(keys))
	for i, k := range keys {
		v, ok := req.ExtFields[k]
		if !ok {
			return nil, newResponse(protocol.SystemError, "the custom field <"+k+"> is null")
		}
		vals[i] = v
	}
	return vals, nil
}

func okBody(req *request, body []byte) *response {
	resp := newResponse(protocol.Success, "")
	resp.Body = body
	return resp
}

// request is what a processor reads from a remoting command; the server glue converts, so the
// processors are tested without sockets.
type request struct {
	Code      int32
	Version   int32
	ExtFields map[string]string
	Body      []byte
}

// response is what a processor answers; the glue turns it into a remoting response with the
// request's opaque and serialization.
type response struct {
	Code      int32
	Remark    string
	ExtFields map[string]string
	Body      []byte
}

func newResponse(code int32, remark string) *response {
	return &response{Code: code, Remark: remark}
}

func setExt(resp *response, k, v string) {
	if resp.ExtFields == nil {
		resp.ExtFields = make(map[string]string)
	}
	resp.ExtFields[k] = v
}

func parseBool(s string) bool { return strings.EqualFold(strings.TrimSpace(s), "true") }

func (s *Server) registerBroker(connKey string, req *request) *response {
	v, bad := required(req, "brokerName", "brokerAddr", "clusterName", "haServerAddr", "brokerId")
	if bad != nil {
		return bad
	}
	brokerID, err := strconv.ParseInt(strings.TrimSpace(v[4]), 10, 64)
	if err != nil {
		return newResponse(protocol.SystemError, "bad brokerId "+strconv.Quote(v[4]))
	}
	if c := strings.TrimSpace(ext(req, "bodyCrc32")); c != "" && c != "0" {
		want, err := strconv.ParseInt(c, 10, 64)
		got := int64(crc32.ChecksumIEEE(req.Body) & 0x7FFFFFFF)
		if err != nil || want != got {
			s.log.Warn("register broker refused: crc32 not match", "broker", v[0], "addr", v[1], "want", c, "got", got)
			return newResponse(protocol.SystemError, "crc32 not match")
		}
	}
	if stale, have := s.staleRegistration(v[0], brokerID, ext(req, "masterEpoch")); stale {
		s.log.Warn("register broker ignored: master epoch older than the set's", "broker", v[0], "addr", v[1],
			"masterEpoch", ext(req, "masterEpoch"), "known", have)
		return newResponse(protocol.SystemError, fmt.Sprintf("stale master epoch %s: broker set %s is in epoch %d", ext(req, "masterEpoch"), v[0], have))
	}
	reg := routeinfo.Registration{
		ClusterName: v[2], BrokerName: v[0], BrokerAddr: v[1], HaServerAddr: v[3], BrokerID: brokerID, ConnKey: connKey,
	}
	if ms, err := strconv.ParseInt(ext(req, "heartbeatTimeoutMillis"), 10, 64); err == nil && ms > 0 {
		reg.Timeout = time.Duration(ms) * time.Millisecond
	}
	if len(req.Body) > 0 {
		body, err := protocol.DecodeRegisterBody(req.Body, parseBool(ext(req, "compressed")))
		if err != nil {
			s.log.Warn("register broker refused: bad body", "broker", v[0], "addr", v[1], "err", err)
			return newResponse(protocol.SystemError, err.Error())
		}
		reg.DataVersion = body.TopicConfigSerializeWrapper.DataVersion
		reg.Topics = body.TopicConfigSerializeWrapper.TopicConfigTable
		if reg.Topics == nil {
			reg.Topics = map[string]routeinfo.TopicConfig{}
		}
	}
	res := s.table.RegisterBroker(reg)
	attrs := []any{"cluster", reg.ClusterName, "broker", reg.BrokerName, "brokerId", reg.BrokerID,
		"addr", reg.BrokerAddr, "haServerAddr", reg.HaServerAddr, "topics", len(reg.Topics), "dataVersion", reg.DataVersion.Counter}
	if res.First {
		s.log.Info("broker registered", attrs...)
	} else {
		s.log.Debug("broker registration refreshed", append(attrs, "topicsUpdated", res.TopicsUpdate)...)
	}
	resp := newResponse(protocol.Success, "")
	if res.MasterAddr != "" {
		setExt(resp, "masterAddr", res.MasterAddr)
		setExt(resp, "haServerAddr", res.HaServerAddr)
	}
	if m := s.kv.list(NamespaceOrderTopicConfig); m != nil {
		resp.Body = encodeKVTable(m)
	}
	return resp
}

func (s *Server) unregisterBroker(req *request) *response {
	v, bad := required(req, "brokerName", "brokerAddr", "clusterName", "brokerId")
	if bad != nil {
		return bad
	}
	brokerID, err := strconv.ParseInt(strings.TrimSpace(v[3]), 10, 64)
	if err != nil {
		return newResponse(protocol.SystemError, "bad brokerId "+strconv.Quote(v[3]))
	}
	removed := s.table.UnregisterBroker(v[2], v[0], v[1], brokerID)
	s.log.Info("broker unregistered", "cluster", v[2], "broker", v[0], "brokerId", brokerID, "addr", v[1], "found", removed)
	return newResponse(protocol.Success, "")
}

func (s *Server) getRouteInfoByTopic(req *request) *response {
	v, bad := required(req, "topic")
	if bad != nil {
		return bad
	}
	topic := v[0]
	route, ok := s.table.TopicRoute(topic)
	if !ok {
		return newResponse(protocol.TopicNotExist, "No topic route info in name server for the topic: "+topic)
	}
	if s.orderMessageEnable.Load() {
		if conf, ok := s.kv.get(NamespaceOrderTopicConfig, topic); ok {
			route.OrderTopicConf = conf
		}
	}
	standard := req.Version >= protocol.VersionV4_9_4 || parseBool(ext(req, "acceptStandardJsonOnly"))
	return okBody(req, protocol.EncodeTopicRoute(route, standard))
}

func (s *Server) getBrokerClusterInfo(req *request) *response {
	// A Java name server always answers in the fastjson form; acceptStandardJsonOnly=true is a
	// Skiff extension for tools that decode with a standard JSON library.
	return okBody(req, protocol.EncodeClusterInfo(s.table.ClusterInfo(), parseBool(ext(req, "acceptStandardJsonOnly"))))
}

func (s *Server) getTopicsByCluster(req *request) *response {
	v, bad := required(req, "cluster")
	if bad != nil {
		return bad
	}
	return okBody(req, encodeTopicList(s.table.TopicsByCluster(v[0]), ""))
}

func (s *Server) deleteTopic(req *request) *response {
	v, bad := required(req, "topic")
	if bad != nil {
		return bad
	}
	cluster := ext(req, "clusterName")
	removed := s.table.DeleteTopic(v[0], cluster)
	s.log.Info("topic deleted", "topic", v[0], "cluster", cluster, "found", removed)
	return newResponse(protocol.Success, "")
}

func (s *Server) operateWritePerm(req *request) *response {
	v, bad := required(req, "brokerName")
	if bad != nil {
		return bad
	}
	resp := newResponse(protocol.Success, "")
	if req.Code == protocol.WipeWritePermOfBroker {
		n := s.table.WipeWritePerm(v[0])
		s.log.Info("write permission wiped", "broker", v[0], "topics", n)
		setExt(resp, "wipeTopicCount", strconv.Itoa(n))
	} else {
		n := s.table.AddWritePerm(v[0])
		s.log.Info("write permission added", "broker", v[0], "topics", n)
		setExt(resp, "addTopicCount", strconv.Itoa(n))
	}
	return resp
}

func (s *Server) kvConfig(req *request) *response {
	switch req.Code {
	case protocol.PutKVConfig:
		v, bad := required(req, "namespace", "key", "value")
		if bad != nil {
			return bad
		}
		if err := s.kv.put(v[0], v[1], v[2]); err != nil {
			s.log.Error("kv config put failed", "namespace", v[0], "key", v[1], "err", err)
			return newResponse(protocol.SystemError, err.Error())
		}
		s.log.Info("kv config put", "namespace", v[0], "key", v[1], "value", v[2])
		return newResponse(protocol.Success, "")
	case protocol.GetKVConfig:
		v, bad := required(req, "namespace", "key")
		if bad != nil {
			return bad
		}
		val, ok := s.kv.get(v[0], v[1])
		if !ok {
			return newResponse(protocol.QueryNotFound, "No config item, Namespace: "+v[0]+" Key: "+v[1])
		}
		resp := newResponse(protocol.Success, "")
		setExt(resp, "value", val)
		return resp
	case protocol.DeleteKVConfig:
		v, bad := required(req, "namespace", "key")
		if bad != nil {
			return bad
		}
		if err := s.kv.delete(v[0], v[1]); err != nil {
			s.log.Error("kv config delete failed", "namespace", v[0], "key", v[1], "err", err)
			return newResponse(protocol.SystemError, err.Error())
		}
		s.log.Info("kv config deleted", "namespace", v[0], "key", v[1])
		return newResponse(protocol.Success, "")
	default: // protocol.GetKVListByNamespace
		v, bad := required(req, "namespace")
		if bad != nil {
			return bad
		}
		m := s.kv.list(v[0])
		if m == nil {
			return newResponse(protocol.QueryNotFound, "No config item, Namespace: "+v[0])
		}
		return okBody(req, encodeKVTable(m))
	}
}

func (s *Server) queryDataVersion(req *request) *response {
	v, bad := required(req, "brokerAddr")
	if bad != nil {
		return bad
	}
	var dv routeinfo.DataVersion
	if len(req.Body) > 0 {
		if err := json.Unmarshal(req.Body, &dv); err != nil {
			return newResponse(protocol.SystemError, "bad data version: "+err.Error())
		}
	}
	changed, stored := s.table.QueryDataVersion(v[0], dv)
	resp := newResponse(protocol.Success, "")
	setExt(resp, "changed", strconv.FormatBool(changed))
	if stored != nil {
		resp.Body, _ = json.Marshal(stored)
	}
	return resp
}

// configBlackList are keys UPDATE_NAMESRV_CONFIG refuses (RocketMQ configBlackList).
var configBlackList = map[string]bool{"configBlackList": true, "configStorePath": true, "kvConfigPath": true, "rocketmqHome": true}

func (s *Server) updateConfig(req *request) *response {
	props, err := parseProperties(string(req.Body))
	if err != nil {
		return newResponse(protocol.SystemError, err.Error())
	}
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if configBlackList[k] {
			return newResponse(protocol.NoPermission, "Can not update config in black list.")
		}
	}
	// Check everything first so a request is applied entirely or not at all.
	type change func()
	var changes []change
	for _, k := range keys {
		val := props[k]
		switch k {
		case "orderMessageEnable":
			b, err := strconv.ParseBool(val)
			if err != nil {
				return newResponse(protocol.SystemError, fmt.Sprintf("orderMessageEnable = %q: want true or false", val))
			}
			changes = append(changes, func() { s.orderMessageEnable.Store(b) })
		case "scanNotActiveBrokerInterval", "brokerChannelExpiredTime":
			n, err := strconv.ParseInt(val, 10, 64)
			if err != nil || n <= 0 {
				return newResponse(protocol.SystemError, fmt.Sprintf("%s = %q: want a positive number of ms", k, val))
			}
			if k == "scanNotActiveBrokerInterval" {
				changes = append(changes, func() { s.scanInterval.Store(n) })
			} else {
				changes = append(changes, func() { s.expiredTime.Store(n) })
			}
		default:
			if _, known := s.configMap()[k]; known {
				return newResponse(protocol.SystemError, fmt.Sprintf("%s cannot be changed at runtime", k))
			}
			return newResponse(protocol.SystemError, fmt.Sprintf("unknown config key %q", k))
		}
	}
	for _, c := range changes {
		c()
	}
	s.log.Info("name server config updated", "keys", strings.Join(keys, ","))
	return newResponse(protocol.Success, "")
}

// configMap lists every config item with its current value, as GET_NAMESRV_CONFIG reports it.
func (s *Server) configMap() map[string]string {
	c := s.cfg
	return map[string]string{
		"listenPort":                  strconv.Itoa(c.ListenPort),
		"bindAddress":                 c.BindAddress,
		"kvConfigPath":                c.KvConfigPath,
		"orderMessageEnable":          strconv.FormatBool(s.orderMessageEnable.Load()),
		"scanNotActiveBrokerInterval": strconv.FormatInt(s.scanInterval.Load(), 10),
		"brokerChannelExpiredTime":    strconv.FormatInt(s.expiredTime.Load(), 10),
		"serverWorkerThreads":         strconv.Itoa(c.ServerWorkerThreads),
		"logLevel":                    c.LogLevel,

		"enableControllerInNamesrv":       strconv.FormatBool(c.EnableControllerInNamesrv),
		"controllerPeers":                 c.ControllerPeers,
		"controllerSelfId":                c.ControllerSelfID,
		"controllerStorePath":             c.ControllerStorePath,
		"controllerHeartBeatTimeoutMills": strconv.FormatInt(c.ControllerHeartBeatTimeoutMills, 10),
		"enableElectUncleanMaster":        strconv.FormatBool(c.EnableElectUncleanMaster),
		"notifyBrokerRoleChanged":         strconv.FormatBool(c.NotifyBrokerRoleChanged),
	}
}

// encodeTopicList encodes TopicList: {"brokerAddr":"...","topicList":[...]} (brokerAddr omitted
// when empty).
func encodeTopicList(topics []string, brokerAddr string) []byte {
	if topics == nil {
		topics = []string{}
	}
	b, _ := json.Marshal(struct {
		BrokerAddr string   `json:"brokerAddr,omitempty"`
		TopicList  []string `json:"topicList"`
	}{brokerAddr, topics})
	return b
}

// encodeKVTable encodes KVTable: {"table":{...}} (keys sorted).
func encodeKVTable(m map[string]string) []byte {
	b, _ := json.Marshal(struct {
		Table map[string]string `json:"table"`
	}{m})
	return b
}

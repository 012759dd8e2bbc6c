package namesrv

import (
	"encoding/json"
	"fmt"
	"net"

	"github.com/skiffmq/skiff/internal/httpapi"
	"github.com/skiffmq/skiff/internal/protocol"
)

// startHTTP serves the name server's HTTP surface when httpPort is set. The JSON API answers
// with the same bodies as the protocol's requests (standard JSON).
func (s *Server) startHTTP() error {
	if s.cfg.HTTPPort == 0 {
		return nil
	}
	m := s.metrics
	m.Gauge("skiff_namesrv_registered_brokers", func() float64 {
		s.connMu.Lock()
		defer s.connMu.Unlock()
		return float64(len(s.conns))
	})
	if s.cfg.EnableControllerInNamesrv {
		m.Gauge("skiff_controller_master_switches_total", s.controllerSwitches)
		m.Gauge("skiff_controller_is_leader", s.controllerLeader)
	}
	callLocal := func(code int32, ext map[string]string) (any, error) {
		r := s.process("", &request{Code: code, Version: 409, ExtFields: ext})
		if r.Code != protocol.Success {
			return nil, fmt.Errorf("%s", r.Remark)
		}
		return json.RawMessage(r.Body), nil
	}
	srv, err := httpapi.Start(httpapi.Config{
		Addr:        net.JoinHostPort(s.cfg.HTTPBindAddress, fmt.Sprint(s.cfg.HTTPPort)),
		Ready:       func() bool { return s.started.Load() && !s.shutdown.Load() },
		Metrics:     m.WritePrometheus,
		Logger:      s.log,
		Mounts:      s.cfg.HTTPMounts,
		PprofRemote: s.cfg.DebugPprofRemote,
		API: map[string]func(map[string]string) (any, error){
			"cluster": func(map[string]string) (any, error) {
				return callLocal(protocol.GetBrokerClusterInfo, map[string]string{"acceptStandardJsonOnly": "true"})
			},
			"topics": func(map[string]string) (any, error) { return callLocal(protocol.GetAllTopicListFromNameServer, nil) },
			"route": func(a map[string]string) (any, error) {
				if a["topic"] == "" {
					return nil, fmt.Errorf("query parameter topic is required")
				}
				return callLocal(protocol.GetRouteInfoByTopic, map[string]string{"topic": a["topic"], "acceptStandardJsonOnly": "true"})
			},
		},
	})
	if err != nil {
		return fmt.Errorf("namesrv: httpPort %d: %w", s.cfg.HTTPPort, err)
	}
	s.http = srv
	return nil
}

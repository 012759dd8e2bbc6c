package namesrv

import (
	"context"
	"fmt"

	"github.com/skiffmq/skiff/internal/protocol"
	"github.com/skiffmq/skiff/internal/remoting"
	"github.com/skiffmq/skiff/internal/remoting/server"
	"github.com/skiffmq/skiff/internal/security"
	"github.com/skiffmq/skiff/namesrv/controller"
)

// Start binds the listener, registers the processors and starts the expiry scan.
func (s *Server) Start() error {
	if s.shutdown.Load() || !s.started.CompareAndSwap(false, true) {
		return ErrNotStarted
	}
	tlsCfg, err := security.ServerTLS(s.cfg.TLSServerMode, s.cfg.TLSServerCertPath, s.cfg.TLSServerKeyPath)
	if err != nil {
		return fmt.Errorf("namesrv: %w", err)
	}
	rs := server.New(server.Config{
		Addr:    s.cfg.ListenAddr(),
		Logger:  s.log,
		Pools:   map[string]int{poolName: s.cfg.ServerWorkerThreads, controllerPool: 4},
		TLSMode: s.cfg.TLSServerMode,
		TLS:     tlsCfg,
	})
	for _, code := range []int32{
		protocol.PutKVConfig, protocol.GetKVConfig, protocol.DeleteKVConfig, protocol.RegisterBroker, protocol.UnregisterBroker,
		protocol.GetRouteInfoByTopic, protocol.GetBrokerClusterInfo, protocol.WipeWritePermOfBroker, protocol.GetAllTopicListFromNameServer,
		protocol.DeleteTopicInNamesrv, protocol.GetKVListByNamespace, protocol.GetTopicsByCluster, protocol.GetSystemTopicListFromNS,
		protocol.UpdateNamesrvConfig, protocol.GetNamesrvConfig, protocol.QueryDataVersion, protocol.AddWritePermOfBroker,
	} {
		rs.Handle(code, poolName, s.handle)
	}
	if s.cfg.EnableControllerInNamesrv {
		for _, code := range controller.Codes {
			rs.Handle(code, controllerPool, s.handleController)
		}
	}
	rs.SetAuthorizer(s.authorizer())
	rs.OnConnClose(s.connClosed)
	if err := rs.Start(); err != nil {
		return fmt.Errorf("namesrv: start on %s: %w", s.cfg.ListenAddr(), err)
	}
	s.rs = rs
	if err := s.startController(rs.Addr()); err != nil {
		_ = rs.Shutdown(context.Background())
		return err
	}
	if err := s.startHTTP(); err != nil {
		s.stopController()
		_ = rs.Shutdown(context.Background())
		return err
	}
	s.wg.Add(2)
	go s.scanLoop()
	go s.kvPrintLoop()
	if s.guard.ACLEnabled() {
		s.wg.Add(1)
		go s.aclReloadLoop()
	}
	s.log.Info("name server boot success", "addr", rs.Addr())
	return nil
}

func connKey(c *server.Conn) string { return fmt.Sprint(c.ID()) }

// handle adapts a remoting command to the processors and back.
func (s *Server) handle(_ context.Context, c *server.Conn, cmd *remoting.Command) *remoting.Command {
	key := ""
	if c != nil {
		key = connKey(c)
		if cmd.Code == protocol.RegisterBroker {
			s.connMu.Lock()
			s.conns[key] = func() {
				if !c.Closed() {
					c.Close()
				}
			}
			s.connMu.Unlock()
		}
	}
	r := s.process(key, &request{Code: cmd.Code, Version: cmd.Version, ExtFields: cmd.ExtFields, Body: cmd.Body})
	if cmd.Code == protocol.RegisterBroker && c != nil && c.Closed() {
		// The connection closed while the registration ran: the close hook may already have
		// looked for this connection's brokers and found none. The server marks a connection
		// closed before it runs the hooks, so either the hook sees this registration or this
		// check sees the close; cleaning up twice is harmless.
		s.connClosed(c)
	}
	resp := remoting.NewResponse(cmd, r.Code, r.Remark)
	resp.ExtFields = r.ExtFields
	resp.Body = r.Body
	return resp
}

func (s *Server) connClosed(c *server.Conn) {
	key := connKey(c)
	s.connMu.Lock()
	delete(s.conns, key)
	s.connMu.Unlock()
	for _, rb := range s.table.ConnClosed(key) {
		s.log.Info("broker removed: connection closed", "cluster", rb.ClusterName, "broker", rb.BrokerName,
			"brokerId", rb.BrokerID, "addr", rb.BrokerAddr, "remote", c.RemoteAddr())
	}
}

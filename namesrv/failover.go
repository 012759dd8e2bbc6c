package namesrv

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/skiffmq/skiff/internal/controlapi"
	"github.com/skiffmq/skiff/internal/remoting"
	"github.com/skiffmq/skiff/internal/remoting/rpc"
	"github.com/skiffmq/skiff/internal/remoting/server"
	"github.com/skiffmq/skiff/namesrv/controller"
)

// controllerPool is the worker pool of controller requests: separate from route requests, so a
// slow Raft commit never delays a route lookup.
const controllerPool = "controller"

// failover is the controller side of a name server with enableControllerInNamesrv: the Raft
// node and the client it forwards requests and role-change notices with.
type failover struct {
	ctl *controller.Controller
	rpc *rpc.Client
}

// startController starts the controller node when it is enabled; addr is the bound listen address.
func (s *Server) startController(addr string) error {
	if !s.cfg.EnableControllerInNamesrv {
		return nil
	}
	peers, err := controller.ParsePeers(s.cfg.ControllerPeers)
	if err != nil {
		return err
	}
	// Other nodes forward to this one at the host of its Raft address and its listen port.
	var host string
	for _, p := range peers {
		if p.ID == s.cfg.ControllerSelfID {
			host, _, _ = net.SplitHostPort(p.Addr)
		}
	}
	_, port, _ := net.SplitHostPort(addr)
	f := &failover{rpc: rpc.New(rpc.Config{Logger: s.log, DefaultTimeout: 5 * time.Second, Sign: s.nodeSigner()})}
	ctl, err := controller.New(controller.Config{
		SelfID: s.cfg.ControllerSelfID, Peers: peers, StorePath: s.cfg.ControllerDir(),
		HeartbeatTimeout: time.Duration(s.cfg.ControllerHeartBeatTimeoutMills) * time.Millisecond,
		Unclean:          s.cfg.EnableElectUncleanMaster, NamesrvAddr: net.JoinHostPort(host, port),
		Logger: s.log, OnChange: s.masterChanged, Secret: s.secret,
	})
	if err != nil {
		_ = f.rpc.Close()
		return fmt.Errorf("namesrv: %w", err)
	}
	f.ctl = ctl
	s.fo = f
	ctl.Start()
	return nil
}

func (s *Server) stopController() {
	if s.fo != nil {
		s.fo.ctl.Shutdown()
		_ = s.fo.rpc.Close()
	}
}

// masterChanged logs a new master (every node's log gets a line from its own name server when
// the brokers re-register; this is the leader's) and pushes it to the set's brokers.
func (s *Server) masterChanged(set controller.BrokerSet) {
	info := set.Info()
	s.log.Info("broker set master switched", "broker", set.BrokerName, "master", info.MasterBrokerID,
		"masterAddr", info.MasterAddress, "masterEpoch", info.MasterEpoch, "syncStateSet", info.SyncStateSet)
	if !s.cfg.NotifyBrokerRoleChanged {
		return
	}
	for id, addr := range set.Replicas {
		ext := map[string]string{"brokerName": set.BrokerName, "brokerId": strconv.FormatInt(id, 10)}
		info.PutExt(ext)
		req := remoting.NewRequest(controlapi.NotifyBrokerRoleChanged, ext, nil)
		go func(addr string) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			if err := s.fo.rpc.InvokeOneway(ctx, addr, req); err != nil {
				s.log.Debug("notify broker role changed failed", "addr", addr, "err", err)
			}
		}(addr)
	}
}

// handleController serves a controller request, forwarding it to the Raft leader when this node
// is not the leader.
func (s *Server) handleController(ctx context.Context, _ *server.Conn, cmd *remoting.Command) *remoting.Command {
	f := s.fo
	if f == nil { // a request between the listener's start and the controller's
		return remoting.NewResponse(cmd, controlapi.NotLeader, "the controller is starting")
	}
	if controller.NeedsLeader(cmd.Code) && !f.ctl.IsLeader() && cmd.ExtFields[controlapi.ControllerForwardedField] != "true" {
		if _, addr := f.ctl.Leader(); addr != "" {
			ext := make(map[string]string, len(cmd.ExtFields)+1)
			for k, v := range cmd.ExtFields {
				ext[k] = v
			}
			ext[controlapi.ControllerForwardedField] = "true"
			fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			resp, err := f.rpc.Invoke(fctx, addr, remoting.NewRequest(cmd.Code, ext, cmd.Body))
			if err == nil {
				out := remoting.NewResponse(cmd, resp.Code, resp.Remark)
				out.ExtFields, out.Body = resp.ExtFields, resp.Body
				return out
			}
			s.log.Debug("forward to the controller leader failed", "leader", addr, "code", cmd.Code, "err", err)
		}
	}
	r := f.ctl.Handle(cmd.Code, cmd.ExtFields, cmd.Body)
	resp := remoting.NewResponse(cmd, r.Code, r.Remark)
	if r.Ext != nil {
		resp.ExtFields = r.Ext
	}
	resp.Body = r.Body
	return resp
}

// staleRegistration reports whether a registration as master (brokerId 0) carries a masterEpoch
// older than one this name server already saw for the set; it records newer epochs.
func (s *Server) staleRegistration(brokerName string, brokerID int64, epochText string) (stale bool, have int64) {
	if brokerID != 0 || epochText == "" {
		return false, 0
	}
	epoch, err := strconv.ParseInt(epochText, 10, 64)
	if err != nil {
		return false, 0
	}
	s.epochMu.Lock()
	defer s.epochMu.Unlock()
	if have = s.masterEpochs[brokerName]; epoch < have {
		return true, have
	}
	s.masterEpochs[brokerName] = epoch
	return false, have
}

// controllerSwitches is the number of master switches this node made as controller leader.
func (s *Server) controllerSwitches() float64 {
	if s.fo == nil {
		return 0
	}
	return float64(s.fo.ctl.Switches())
}

func (s *Server) controllerLeader() float64 {
	if s.fo != nil && s.fo.ctl.IsLeader() {
		return 1
	}
	return 0
}

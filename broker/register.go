package broker

import (
	"context"

	"hash/crc32"
	"strconv"
	"sync"
	"time"

	"github.com/skiffmq/skiff/broker/metadata"
	"github.com/skiffmq/skiff/internal/protocol"
	"github.com/skiffmq/skiff/internal/remoting"
)

// triggerRegister asks the register loop to register with every name server now (after a topic
// was created or changed).
func (b *Broker) triggerRegister() {
	select {
	case b.registerCh <- struct{}{}:
	default:
	}
}

// registerLoop registers with every name server at start, every registerNameServerPeriod, and
// whenever triggerRegister is called. Concurrency model (a): this goroutine owns registration.
func (b *Broker) registerLoop(ctx context.Context) {
	b.registerAll(ctx)
	t := time.NewTicker(ms(b.conf().RegisterNameServerPeriod))
	defer t.Stop()
	// A slave that does not know its master yet (the master registered after it) asks again
	// every 3 s instead of waiting for the next period.
	quick := time.NewTicker(3 * time.Second)
	defer quick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-b.registerCh:
		case <-quick.C:
			if b.haSlave == nil || b.haSlave.MasterAddr() != "" || b.fo != nil {
				continue
			}
		}
		b.registerAll(ctx)
	}
}

// registerAll sends REGISTER_BROKER to every name server in parallel.
func (b *Broker) registerAll(ctx context.Context) {
	addrs := b.conf().NamesrvAddrs()
	if len(addrs) == 0 {
		return
	}
	table := b.topics.Snapshot()
	if b.conf().BrokerPermission != metadata.PermRead|metadata.PermWrite {
		for k, tc := range table.TopicConfigTable {
			tc.Perm &= b.conf().BrokerPermission | metadata.PermInherit
			table.TopicConfigTable[k] = tc
		}
	}
	body := protocol.EncodeRegisterBody(protocol.RegisterBrokerBody{TopicConfigSerializeWrapper: table})
	ext := map[string]string{
		"brokerName":   b.conf().BrokerName,
		"brokerAddr":   b.conf().BrokerAddr(),
		"clusterName":  b.conf().BrokerClusterName,
		"haServerAddr": b.conf().HAServerAddr(),
		"brokerId":     strconv.FormatInt(b.conf().BrokerID, 10),
		"compressed":   "false",
		"bodyCrc32":    strconv.FormatUint(uint64(crc32.ChecksumIEEE(body)&0x7FFFFFFF), 10),
	}
	if b.fo != nil {
		ext["masterEpoch"] = strconv.FormatInt(b.fo.epoch(), 10) // the name server ignores older masters
	}
	var wg sync.WaitGroup
	for _, addr := range addrs {
		wg.Add(1)
		go func(addr string) {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, ms(b.conf().RegisterBrokerTimeoutMills))
			defer cancel()
			req := remoting.NewRequest(remoting.RegisterBroker, copyMap(ext), body)
			resp, err := b.rpc.Invoke(cctx, addr, req)
			if err != nil {
				b.log.Warn("register broker failed", "namesrv", addr, "err", err)
				return
			}
			if resp.Code != remoting.Success {
				b.log.Warn("register broker refused", "namesrv", addr, "code", resp.Code, "remark", resp.Remark)
				return
			}
			if !b.registered.Swap(true) {
				b.log.Info("registered with name server", "namesrv", addr, "topics", len(table.TopicConfigTable))
			}
			b.onRegisterResponse(addr, resp)
		}(addr)
	}
	wg.Wait()
}

// onRegisterResponse learns the master's addresses from the answer (slaves).
func (b *Broker) onRegisterResponse(addr string, resp *remoting.Command) {
	if b.conf().IsMaster() || b.fo != nil { // in controller mode the controller names the master
		return
	}
	masterAddr, haAddr := resp.ExtFields["masterAddr"], resp.ExtFields["haServerAddr"]
	if masterAddr != "" && masterAddr != b.masterAddr.Load().(string) {
		b.log.Info("master learned from name server", "namesrv", addr, "masterAddr", masterAddr, "haServerAddr", haAddr)
		b.masterAddr.Store(masterAddr)
	}
	if haAddr != "" && len(b.conf().HaMasterAddress) < 6 {
		b.haSlave.SetMasterAddr(haAddr)
	}
}

// unregisterAll sends UNREGISTER_BROKER to every name server (clean shutdown).
func (b *Broker) unregisterAll(ctx context.Context) {
	var wg sync.WaitGroup
	for _, addr := range b.conf().NamesrvAddrs() {
		wg.Add(1)
		go func(addr string) {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			defer cancel()
			req := remoting.NewRequest(remoting.UnregisterBroker, map[string]string{
				"brokerName": b.conf().BrokerName, "brokerAddr": b.conf().BrokerAddr(),
				"clusterName": b.conf().BrokerClusterName, "brokerId": strconv.FormatInt(b.conf().BrokerID, 10),
			}, nil)
			if _, err := b.rpc.Invoke(cctx, addr, req); err != nil {
				b.log.Warn("unregister broker failed", "namesrv", addr, "err", err)
				return
			}
			b.log.Info("unregistered from name server", "namesrv", addr)
		}(addr)
	}
	wg.Wait()
}

func copyMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

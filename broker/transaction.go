package broker

import (
	"context"
	"time"

	"github.com/skiffmq/skiff/broker/processor"
	"github.com/skiffmq/skiff/internal/remoting"
)

// Transactions (§2.10) are served by processor.Transactions (END_TRANSACTION and the check-back
// pass); this file runs the check loop and hands the processor the connected producers.

// transactionCheckLoop runs a check-back pass every transactionCheckInterval.
func (b *Broker) transactionCheckLoop(ctx context.Context) {
	t := time.NewTicker(ms(b.conf().TransactionCheckInterval))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if b.conf().IsMaster() { // controller mode: only the current master checks back
				b.txProc.CheckPass(b.now())
			}
		}
	}
}

// brokerProducers is the client manager as the transaction processor's Producers.
type brokerProducers struct{ m *clientManager }

func (p brokerProducers) Check(group string, pick int, req *remoting.Command) error {
	chs := p.m.producerChannels(group)
	if len(chs) == 0 {
		return processor.ErrNoProducer
	}
	if pick < 0 {
		pick = -pick
	}
	ch := chs[pick%len(chs)]
	return ch.conn.InvokeOneway(req)
}

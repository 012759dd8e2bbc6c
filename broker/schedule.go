package broker

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/skiffmq/skiff/broker/metadata"
	"github.com/skiffmq/skiff/commitlog"
	"github.com/skiffmq/skiff/internal/message"
)

// scheduleLoop delivers delayed messages (§4.10): for each level it walks SCHEDULE_TOPIC_XXXX queue
// level-1 from the saved offset and re-stores every message whose delivery time has come to its
// real topic and queue. Only a master runs it.
func (b *Broker) scheduleLoop(ctx context.Context) {
	select {
	case <-ctx.Done():
		return
	case <-time.After(time.Second):
	}
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	backoff := map[int]time.Time{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !b.conf().IsMaster() {
			continue // controller mode: only the current master delivers
		}
		now := b.now()
		for level := 1; level <= len(b.delayLevels); level++ {
			if until, ok := backoff[level]; ok && now.Before(until) {
				continue
			}
			if err := b.deliverLevel(ctx, level, now); err != nil {
				b.log.Warn("delay delivery failed; retrying in 10s", "level", level, "err", err)
				backoff[level] = now.Add(10 * time.Second)
			}
		}
	}
}

// deliverLevel delivers every due message of one level.
func (b *Broker) deliverLevel(ctx context.Context, level int, now time.Time) error {
	qid := int32(level - 1)
	delay := b.delayLevels[level-1]
	offset := b.delayOffsets.Get(int32(level))
	for ctx.Err() == nil {
		res := b.store.GetMessage(metadata.TopicSchedule, qid, offset, 32, nil)
		switch res.Status {
		case commitlog.Found:
		case commitlog.OffsetTooSmall, commitlog.OffsetOverflowBadly, commitlog.NoMatchedMessage, commitlog.MessageWasRemoving:
			if res.NextBeginOffset != offset {
				offset = res.NextBeginOffset
				b.delayOffsets.Set(int32(level), offset)
				continue
			}
			return nil
		default:
			return nil
		}
		for _, raw := range res.Messages {
			m, err := message.Decode(raw, false)
			if err != nil {
				return err
			}
			deliverAt := m.StoreTimestamp + delay.Milliseconds()
			if deliverAt > now.UnixMilli() {
				return nil
			}
			if err := b.deliverDelayed(m); err != nil {
				return err
			}
			offset = m.QueueOffset + 1
			b.delayOffsets.Set(int32(level), offset)
		}
		if len(res.Messages) == 0 {
			return nil
		}
	}
	return nil
}

// deliverDelayed stores a due message to its real destination.
func (b *Broker) deliverDelayed(m *message.Message) error {
	props := m.Properties
	realTopic := props[message.PropertyRealTopic]
	realQID, err := strconv.Atoi(props[message.PropertyRealQueueID])
	if realTopic == "" || err != nil {
		b.log.Warn("delayed message without a real destination dropped", "offset", m.CommitLogOffset)
		return nil
	}
	delete(props, message.PropertyDelayLevel)
	delete(props, message.PropertyRealTopic)
	delete(props, message.PropertyRealQueueID)
	props[message.PropertyWait] = "false"
	out := &message.Message{
		Topic: realTopic, QueueID: int32(realQID), Flag: m.Flag, SysFlag: m.SysFlag,
		BornTimestamp: m.BornTimestamp, BornHost: m.BornHost, StoreHost: b.storeHost,
		ReconsumeTimes: m.ReconsumeTimes, Body: m.Body, Properties: props,
	}
	res := b.write(writeInternal, out)
	if !res.OK() {
		return fmt.Errorf("store delayed message for %s: %s: %v", realTopic, putStatusName(res.Status), res.Err)
	}
	return nil
}

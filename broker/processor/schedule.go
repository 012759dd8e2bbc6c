package processor

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"time"

	"github.com/skiffmq/skiff/broker/metadata"
	"github.com/skiffmq/skiff/commitlog"
	"github.com/skiffmq/skiff/internal/message"
)

// DelayOffsets stores the delivery progress per delay level (*metadata.DelayOffsets implements it).
type DelayOffsets interface {
	Get(level int32) int64
	Set(level int32, offset int64)
}

// ScheduleStore is what the schedule processor reads of the commit log.
type ScheduleStore interface {
	GetMessage(topic string, queueID int32, offset int64, maxMsgNums int, match func(tagsCode int64) bool) commitlog.GetResult
}

// Schedule delivers delayed messages (§4.10): level L's messages wait in SCHEDULE_TOPIC_XXXX
// queue L-1 (the send rewrite put them there) and are re-stored, through Writer, to their real
// topic and queue once their store time plus the level's delay has passed. The level's delay
// offset moves past a message only after its delivery was stored (and, in controller mode, is
// on the in-sync replicas), so a failed delivery is retried, never skipped.
type Schedule struct {
	Store     ScheduleStore
	Writer    *Writer
	Offsets   DelayOffsets
	Levels    []time.Duration // level L (1-based) waits Levels[L-1]
	StoreHost netip.AddrPort
	Log       *slog.Logger
}

// DeliverDue delivers every due message of every level at now, skipping the levels skip reports
// (the caller's backoff after a failure; nil skips none). It returns the levels that failed.
func (p *Schedule) DeliverDue(ctx context.Context, now time.Time, skip func(level int) bool) map[int]error {
	var failed map[int]error
	for level := 1; level <= len(p.Levels); level++ {
		if skip != nil && skip(level) {
			continue
		}
		if err := p.DeliverLevel(ctx, level, now); err != nil {
			if failed == nil {
				failed = map[int]error{}
			}
			failed[level] = err
		}
	}
	return failed
}

// DeliverLevel delivers every due message of one level at now, in queue order.
func (p *Schedule) DeliverLevel(ctx context.Context, level int, now time.Time) error {
	if level < 1 || level > len(p.Levels) {
		return fmt.Errorf("delay level %d out of range 1..%d", level, len(p.Levels))
	}
	qid := int32(level - 1)
	delay := p.Levels[level-1]
	offset := p.Offsets.Get(int32(level))
	for ctx.Err() == nil {
		res := p.Store.GetMessage(metadata.TopicSchedule, qid, offset, 32, nil)
		switch res.Status {
		case commitlog.Found:
		case commitlog.OffsetTooSmall, commitlog.OffsetOverflowBadly, commitlog.NoMatchedMessage, commitlog.MessageWasRemoving:
			if res.NextBeginOffset != offset {
				offset = res.NextBeginOffset
				p.Offsets.Set(int32(level), offset)
				continue
			}
			return nil
		default:
			return nil
		}
		for _, raw := range res.Messages {
			m, err := message.Decode(raw, false)
			if err != nil {
				return fmt.Errorf("decode delayed message at queue offset %d of level %d: %w", offset, level, err)
			}
			if m.StoreTimestamp+delay.Milliseconds() > now.UnixMilli() {
				return nil // later messages of the level are younger still
			}
			if err := p.deliver(m); err != nil {
				return err
			}
			offset = m.QueueOffset + 1
			p.Offsets.Set(int32(level), offset)
		}
		if len(res.Messages) == 0 {
			return nil
		}
	}
	return nil
}

// deliver stores a due message to its real destination.
func (p *Schedule) deliver(m *message.Message) error {
	props := m.Properties
	realTopic := props[message.PropertyRealTopic]
	realQID, err := strconv.Atoi(props[message.PropertyRealQueueID])
	if realTopic == "" || err != nil {
		p.Log.Warn("delayed message without a real destination dropped", "commitLogOffset", m.CommitLogOffset,
			"REAL_TOPIC", realTopic, "REAL_QID", props[message.PropertyRealQueueID])
		return nil
	}
	delete(props, message.PropertyDelayLevel)
	delete(props, message.PropertyRealTopic)
	delete(props, message.PropertyRealQueueID)
	props[message.PropertyWait] = "false"
	out := &message.Message{
		Topic: realTopic, QueueID: int32(realQID), Flag: m.Flag, SysFlag: m.SysFlag,
		BornTimestamp: m.BornTimestamp, BornHost: m.BornHost, StoreHost: p.StoreHost,
		ReconsumeTimes: m.ReconsumeTimes, Body: m.Body, Properties: props,
	}
	res := p.Writer.Write(WriteInternal, out)
	if !res.OK() {
		return fmt.Errorf("store delayed message for %s: %s: %v", realTopic, PutStatusName(res.Status), res.Err)
	}
	if res.Replica != ReplicaOK {
		return fmt.Errorf("delayed message for %s stored on the master but not on the replicas in time (delivered again later)", realTopic)
	}
	return nil
}

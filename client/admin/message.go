package admin

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/skiffmq/skiff/client/internal/core"
	"github.com/skiffmq/skiff/internal/message"
	"github.com/skiffmq/skiff/internal/remoting"
)

// SendResult is the outcome of SendMessage.
type SendResult struct {
	Code        int32  // 0 SEND_OK; 10/11/12 stored but not yet durable or replicated
	MsgID       string // the message's unique key
	OffsetMsgID string // broker-assigned offset message id
	BrokerName  string
	BrokerAddr  string
	QueueID     int32
	QueueOffset int64
}

// MessageView is one message read by PullMessages.
type MessageView struct {
	BrokerName string
	QueueID    int32
	*message.Message
}

// SendMessage sends one message (SEND_MESSAGE, code 10) to a writable queue of a master that
// hosts topic, round-robin by time. A topic the name servers do not know is sent through the
// default topic TBW102 route, so a broker with autoCreateTopicEnable creates it, as producers do.
// brokerName and queueID (>= 0) pin the target.
func (a *Admin) SendMessage(ctx context.Context, topic string, body []byte, tags, keys, brokerName string, queueID int32) (*SendResult, error) {
	route, err := a.TopicRoute(ctx, topic)
	if errors.Is(err, ErrTopicNotExist) {
		route, err = a.TopicRoute(ctx, "TBW102")
	}
	if err != nil {
		return nil, err
	}
	type target struct {
		name, addr string
		queues     int32
	}
	var targets []target
	for _, qd := range route.QueueDatas {
		if qd.Perm&PermWrite == 0 || (brokerName != "" && qd.BrokerName != brokerName) {
			continue
		}
		for _, bd := range route.BrokerDatas {
			if bd.BrokerName == qd.BrokerName && bd.MasterAddr() != "" {
				targets = append(targets, target{qd.BrokerName, bd.MasterAddr(), min(qd.WriteQueueNums, 4)})
			}
		}
	}
	if len(targets) == 0 {
		return nil, fmt.Errorf("admin: no writable master queue for topic %s%s", topic, map[bool]string{true: " on broker " + brokerName}[brokerName != ""])
	}
	sort.Slice(targets, func(i, j int) bool { return targets[i].name < targets[j].name })
	n := time.Now().UnixNano()
	tg := targets[int(n%int64(len(targets)))]
	qid := queueID
	if qid < 0 {
		qid = int32(n / 7 % int64(max(tg.queues, 1)))
	}
	props := map[string]string{message.PropertyUniqKey: message.NewUniqKey()}
	if tags != "" {
		props[message.PropertyTags] = tags
	}
	if keys != "" {
		props[message.PropertyKeys] = keys
	}
	req := remoting.NewRequest(remoting.SendMessage, map[string]string{
		"producerGroup": "SKIFF_ADMIN_PRODUCER", "topic": topic, "defaultTopic": "TBW102", "defaultTopicQueueNums": "4",
		"queueId": strconv.Itoa(int(qid)), "sysFlag": "0", "bornTimestamp": strconv.FormatInt(time.Now().UnixMilli(), 10),
		"flag": "0", "properties": message.FormatProperties(props), "reconsumeTimes": "0", "unitMode": "false",
		"batch": "false",
	}, body)
	resp, err := a.cl.Invoke(ctx, tg.addr, req)
	if err != nil {
		return nil, err
	}
	switch resp.Code {
	case remoting.Success, remoting.FlushDiskTimeout, remoting.FlushSlaveTimeout, remoting.SlaveNotAvailable:
	default:
		return nil, fmt.Errorf("admin: send to topic %s on %s: %w", topic, tg.addr, core.Check(resp, tg.addr, req.Code))
	}
	q, _ := strconv.ParseInt(resp.ExtFields["queueId"], 10, 32)
	off, _ := strconv.ParseInt(resp.ExtFields["queueOffset"], 10, 64)
	return &SendResult{Code: resp.Code, MsgID: props[message.PropertyUniqKey], OffsetMsgID: resp.ExtFields["msgId"],
		BrokerName: tg.name, BrokerAddr: tg.addr, QueueID: int32(q), QueueOffset: off}, nil
}

// PullMessages reads up to count messages of topic, queue by queue (every read queue of every
// broker set, or only brokerName / queueID when given), from offset or, when offset < 0, from
// each queue's min offset. It uses PULL_MESSAGE (11) without suspending and commits nothing.
func (a *Admin) PullMessages(ctx context.Context, topic, brokerName string, queueID int32, offset int64, count int) ([]MessageView, error) {
	route, err := a.TopicRoute(ctx, topic)
	if err != nil {
		return nil, err
	}
	var out []MessageView
	for _, qd := range route.QueueDatas {
		if brokerName != "" && qd.BrokerName != brokerName {
			continue
		}
		addr := ""
		for _, bd := range route.BrokerDatas {
			if bd.BrokerName == qd.BrokerName {
				addr = bd.MasterAddr()
				if addr == "" {
					for _, v := range bd.BrokerAddrs {
						addr = v
						break
					}
				}
			}
		}
		if addr == "" {
			continue
		}
		for q := int32(0); q < qd.ReadQueueNums && len(out) < count; q++ {
			if queueID >= 0 && q != queueID {
				continue
			}
			off := offset
			if off < 0 {
				resp, err := a.cl.Invoke(ctx, addr, remoting.NewRequest(remoting.GetMinOffset, map[string]string{"topic": topic, "queueId": strconv.Itoa(int(q))}, nil))
				if err != nil {
					return out, err
				}
				off, _ = strconv.ParseInt(resp.ExtFields["offset"], 10, 64)
			}
			for len(out) < count {
				req := remoting.NewRequest(remoting.PullMessage, map[string]string{
					"consumerGroup": "SKIFF_ADMIN_CONSUMER", "topic": topic, "queueId": strconv.Itoa(int(q)),
					"queueOffset": strconv.FormatInt(off, 10), "maxMsgNums": strconv.Itoa(min(count-len(out), 32)),
					"sysFlag": "4", "commitOffset": "-1", "suspendTimeoutMillis": "0", "subscription": "*",
					"subVersion": "0", "expressionType": "TAG",
				}, nil)
				resp, err := a.cl.Invoke(ctx, addr, req)
				if err != nil {
					return out, err
				}
				if resp.Code != remoting.Success {
					break
				}
				msgs, err := message.DecodeAll(resp.Body)
				if err != nil {
					return out, fmt.Errorf("admin: decode messages of %s queue %d from %s: %w", topic, q, addr, err)
				}
				for _, m := range msgs {
					out = append(out, MessageView{BrokerName: qd.BrokerName, QueueID: q, Message: m})
				}
				next, _ := strconv.ParseInt(resp.ExtFields["nextBeginOffset"], 10, 64)
				if next <= off {
					break
				}
				off = next
			}
		}
	}
	return out, nil
}

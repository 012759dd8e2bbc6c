package client

import (
	"errors"
	"fmt"

	"github.com/skiffmq/skiff/internal/remoting"
)

// Sentinel errors. Errors returned by the SDK wrap them (errors.Is) and name the values involved.
var (
	// ErrNoNameServer: no name server address was configured (option or NAMESRV_ADDR), or one
	// does not parse as ip:port.
	ErrNoNameServer = errors.New("client: no name server address")
	// ErrTopicNotExist: no name server has a route for the topic, or a broker answered
	// TOPIC_NOT_EXIST.
	ErrTopicNotExist = errors.New("client: topic does not exist")
	// ErrTimeout: no answer arrived before the deadline.
	ErrTimeout = errors.New("client: timeout")
	// ErrConnect: an address could not be reached.
	ErrConnect = errors.New("client: connect failed")
	// ErrConnClosed: the connection dropped before the answer arrived.
	ErrConnClosed = errors.New("client: connection closed")
	// ErrBrokerBusy: the broker answered SYSTEM_BUSY or flow control (try later).
	ErrBrokerBusy = errors.New("client: broker busy")
	// ErrFlushDiskTimeout: the broker stored the message but did not flush it in time
	// (SYNC_FLUSH). The message may or may not survive a crash of the broker.
	ErrFlushDiskTimeout = errors.New("client: flush disk timeout")
	// ErrFlushSlaveTimeout: a SYNC_MASTER stored the message but no slave acknowledged it in time.
	ErrFlushSlaveTimeout = errors.New("client: flush slave timeout")
	// ErrSlaveNotAvailable: a SYNC_MASTER stored the message but has no slave in sync.
	ErrSlaveNotAvailable = errors.New("client: slave not available")
	// ErrNoPermission: the broker refuses the operation (write permission wiped, a slave
	// asked to store, ...).
	ErrNoPermission = errors.New("client: no permission")
	// ErrMessageIllegal: the broker refused the message (too large, bad topic name, ...).
	ErrMessageIllegal = errors.New("client: message illegal")
	// ErrSubscriptionGroupNotExist: the broker does not know the consumer group and does not
	// create groups automatically.
	ErrSubscriptionGroupNotExist = errors.New("client: subscription group does not exist")
	// ErrInvalidArgument: an argument was refused before anything was sent.
	ErrInvalidArgument = errors.New("client: invalid argument")
	// ErrNotStarted: the client was used before Start or after Shutdown.
	ErrNotStarted = errors.New("client: not started")
	// ErrClosed: the client has been shut down.
	ErrClosed = errors.New("client: closed")
	// ErrBadResponse: an answer did not decode.
	ErrBadResponse = errors.New("client: bad response")
)

// BrokerError is an answer with an error code from a broker or a name server.
type BrokerError struct {
	Addr        string // who answered
	RequestCode int32  // what was asked
	Code        int32  // the response code
	Remark      string // the server's explanation
}

func (e *BrokerError) Error() string {
	return fmt.Sprintf("client: request %d to %s: code %d: %s", e.RequestCode, e.Addr, e.Code, e.Remark)
}

// Is matches the sentinel that corresponds to the code.
func (e *BrokerError) Is(target error) bool {
	return target != nil && target == CodeError(e.Code)
}

// CodeError returns the sentinel for a response code, or nil when there is none.
func CodeError(code int32) error {
	switch code {
	case remoting.TopicNotExist:
		return ErrTopicNotExist
	case remoting.SystemBusy, remoting.FlowControl:
		return ErrBrokerBusy
	case remoting.FlushDiskTimeout:
		return ErrFlushDiskTimeout
	case remoting.FlushSlaveTimeout:
		return ErrFlushSlaveTimeout
	case remoting.SlaveNotAvailable:
		return ErrSlaveNotAvailable
	case remoting.NoPermission:
		return ErrNoPermission
	case remoting.MessageIllegal:
		return ErrMessageIllegal
	case remoting.SubscriptionGroupNotExist:
		return ErrSubscriptionGroupNotExist
	}
	return nil
}

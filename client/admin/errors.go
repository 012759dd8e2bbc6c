package admin

import (
	"errors"
	"fmt"
)

// Sentinel errors. Returned errors wrap them and name the values involved.
var (
	// ErrNoNameServer is returned by New when no name server address is configured (option or
	// NAMESRV_ADDR) or an address does not parse.
	ErrNoNameServer = errors.New("admin: no name server address")
	// ErrTopicNotExist is returned when a name server has no route for a topic.
	ErrTopicNotExist = errors.New("admin: topic does not exist")
	// ErrClusterNotExist is returned when the name servers know no broker of a cluster.
	ErrClusterNotExist = errors.New("admin: cluster does not exist")
	// ErrTimeout is returned when no answer arrived before the deadline.
	ErrTimeout = errors.New("admin: timeout")
	// ErrConnect is returned when an address could not be reached.
	ErrConnect = errors.New("admin: connect failed")
	// ErrConnClosed is returned when a connection dropped before the answer arrived.
	ErrConnClosed = errors.New("admin: connection closed")
	// ErrClosed is returned by calls after Close.
	ErrClosed = errors.New("admin: client closed")
	// ErrBadResponse is returned when an answer's body does not decode.
	ErrBadResponse = errors.New("admin: bad response")
	// ErrInvalidArgument is returned for arguments refused before anything is sent.
	ErrInvalidArgument = errors.New("admin: invalid argument")
)

// BrokerError is a response with an error code from a broker or name server.
type BrokerError struct {
	Addr        string // who answered
	RequestCode int32  // what was asked
	Code        int32  // response code (§2.2)
	Remark      string // the server's explanation
}

func (e *BrokerError) Error() string {
	return fmt.Sprintf("admin: request %d to %s: code %d: %s", e.RequestCode, e.Addr, e.Code, e.Remark)
}

// Is makes a TOPIC_NOT_EXIST answer match ErrTopicNotExist.
func (e *BrokerError) Is(target error) bool {
	return target == ErrTopicNotExist && e.Code == codeTopicNotExist
}

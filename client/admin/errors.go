package admin

import (
	"github.com/skiffmq/skiff/client"
	"github.com/skiffmq/skiff/internal/protocol"
)

// Sentinel errors. They are the SDK's own (package client), so errors.Is works the same on
// errors from the admin client, producers and consumers. Returned errors wrap them and name the
// values involved.
var (
	// ErrNoNameServer is returned by New when no name server address is configured (option or
	// NAMESRV_ADDR) or an address does not parse.
	ErrNoNameServer = client.ErrNoNameServer
	// ErrTopicNotExist is returned when a name server has no route for a topic.
	ErrTopicNotExist = client.ErrTopicNotExist
	// ErrClusterNotExist is returned when the name servers know no broker of a cluster.
	// (ClusterInfo.MasterAddrs, a method of the protocol's type, returns it too.)
	ErrClusterNotExist = protocol.ErrClusterNotExist
	// ErrTimeout is returned when no answer arrived before the deadline.
	ErrTimeout = client.ErrTimeout
	// ErrConnect is returned when an address could not be reached.
	ErrConnect = client.ErrConnect
	// ErrConnClosed is returned when a connection dropped before the answer arrived.
	ErrConnClosed = client.ErrConnClosed
	// ErrClosed is returned by calls after Close.
	ErrClosed = client.ErrClosed
	// ErrBadResponse is returned when an answer's body does not decode.
	ErrBadResponse = client.ErrBadResponse
	// ErrInvalidArgument is returned for arguments refused before anything is sent.
	ErrInvalidArgument = client.ErrInvalidArgument
)

// BrokerError is a response with an error code from a broker or name server; it matches the
// sentinel of its code (TOPIC_NOT_EXIST → ErrTopicNotExist, ...).
type BrokerError = client.BrokerError

package routeinfo

import "github.com/skiffmq/skiff/internal/protocol"

// Permission bits of QueueData.Perm and TopicConfig.Perm (RocketMQ PermName).
const (
	PermPriority = protocol.PermPriority // PERM_PRIORITY
	PermRead     = protocol.PermRead     // PERM_READ
	PermWrite    = protocol.PermWrite    // PERM_WRITE
	PermInherit  = protocol.PermInherit  // PERM_INHERIT (templates such as TBW102)
)

// MasterID is the brokerId of a master; slaves have ids >= 1.
const MasterID = protocol.MasterID

// The table's types are the protocol's body types (internal/protocol, route.go), so the name
// server, the brokers and the SDK share one definition and one codec (routebodies.go there).
type (
	DataVersion                 = protocol.DataVersion
	TopicConfig                 = protocol.TopicConfig
	QueueData                   = protocol.QueueData
	BrokerData                  = protocol.BrokerData
	TopicRouteData              = protocol.TopicRouteData
	ClusterInfo                 = protocol.ClusterInfo
	RegisterBrokerBody          = protocol.RegisterBrokerBody
	TopicConfigSerializeWrapper = protocol.TopicConfigSerializeWrapper
)

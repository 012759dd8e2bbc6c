// Package protocol is the one home of RocketMQ's wire types shared by the broker, the name
// server and the SDK: the request and response codes, the command header with its two
// serializations, the typed request and response headers that map to extFields, and helpers
// for the bodies. It imports only the standard library; every decoder is fuzzed and returns an
// error for bad input, never a panic.
//
// # Command header
//
// Header is the command header of §1.3 with the extFields kept as a list of raw entries
// (ExtField) in wire order. DecodeJSONHeader is a hand-written, validating scanner for the JSON
// form (serType 0) that allocates nothing: strings are unescaped in place inside the caller's
// buffer and returned as aliases of it. The fuzz test FuzzProtocolJSONHeader holds it to
// encoding/json decoding into the header's Go shape (same inputs accepted, same values).
// DecodeBinaryHeader reads the ROCKETMQ form (serType 1):
//
//	| Offset | Size      | Field                                                   |
//	|--------|-----------|---------------------------------------------------------|
//	| 0      | 2         | code (int16)                                            |
//	| 2      | 1         | language code (JAVA 0 ... GO 9 ... RUST 12)             |
//	| 3      | 2         | version (int16)                                         |
//	| 5      | 4         | opaque                                                  |
//	| 9      | 4         | flag                                                    |
//	| 13     | 4         | remarkLen (0 = no remark)                               |
//	| 17     | remarkLen | remark, UTF-8                                           |
//	| 17+r   | 4         | extLen (bytes of the ext section)                       |
//	| 21+r   | extLen    | entries: keyLen (int16), key, valLen (int32), value     |
//
// A key repeated on the wire keeps its last value, as a JSON object decoded into a map or
// Java's HashMap would; a JSON null value removes the key.
//
// # Typed headers
//
// SendMessageRequestHeader, PullMessageRequestHeader and their responses decode from and append
// to the raw list in one pass with a switch on the key: no map, no reflection. Required fields
// that are missing and values that do not parse give a *HeaderFieldError (errors.Is
// ErrHeaderField) whose text names the field and the value.
//
// # Codes
//
// codes.go is the single table of request codes, response codes, versions, flags, serialization
// types and languages; package remoting re-exports it. To add a code (a controller request, say),
// add one constant there.
//
// # Bodies
//
// bodies.go and route.go hold the JSON body types every side uses (TopicConfig,
// SubscriptionGroupConfig, HeartbeatData, MessageQueue, DataVersion, QueueData, BrokerData,
// TopicRouteData, ClusterInfo, RegisterBrokerBody); routebodies.go encodes the route and cluster
// bodies exactly as a Java name server does (fastjson's field order and unquoted integer keys, or
// standard JSON) and reads REGISTER_BROKER in its JSON and zlib forms. fastjson.go is the one
// reader of fastjson's dialect: StandardizeJSON, UnmarshalFastJSON and ObjectKeyMap.
package protocol

// Package client holds the public types of Skiff's Go SDK: messages, message queues, send and pull
// results, the typed errors, and how name servers are found. The producer lives in
// client/producer, the push and pull consumers in client/consumer, administration in client/admin.
//
// The SDK speaks the RocketMQ 4.x remoting protocol, the same as the official
// rocketmq-client-go/v2, so programs built on either can share one cluster: a message sent by one
// is consumed by the other with its body, tags, keys and properties intact.
//
// # Received messages and their properties
//
// A consumer decodes a pulled message without building a map of its properties: a MessageExt
// keeps them encoded as the broker sent them. Property(k) reads one (it works the same on a
// Message to send), Properties() returns a new map of all of them, and Tags, Keys, DelayLevel and
// MsgID (the UNIQ_KEY property) are fields. MessageExt's Properties method shadows the embedded
// Message's map field, so code that indexed the map of a received message (m.Properties[k]) no
// longer compiles rather than silently reading nothing: write m.Property(k). The embedded
// Message.Properties of a received message holds only what WithProperty set after receipt;
// sending that Message again (p.Send(ctx, &m.Message)) sends the received properties with those
// on top, as before.
//
// # Name servers
//
// Every client takes a list of name servers ("ip:port"; an entry may join several with ';').
// Without one it reads the NAMESRV_ADDR environment variable. Route lookups go to one name server
// and fail over to the next on transport errors.
//
// # Errors
//
// Errors start with the package name ("producer: ", "consumer: ", ...), name the topic, broker or
// address involved and wrap a sentinel of this package, so errors.Is works:
//
//	if errors.Is(err, client.ErrTopicNotExist) { ... }
//
// An answer with an error code from a broker or name server is a *BrokerError, which carries the
// code, the server's remark and its address, and matches the sentinel for its code
// (TOPIC_NOT_EXIST → ErrTopicNotExist, SYSTEM_BUSY → ErrBrokerBusy, FLUSH_DISK_TIMEOUT →
// ErrFlushDiskTimeout, ...).
//
// # Logging
//
// Clients log through a *slog.Logger given in their options and are silent without one.
package client

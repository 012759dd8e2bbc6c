// Package rpc is the client side of the RocketMQ remoting protocol, on net.Conn. The broker uses
// it to talk to name servers; the SDK uses it for everything.
//
// # Connections
//
// A Client keeps one TCP connection per remote address, dialed lazily on the first call and
// dialed again on the next call after it failed or was closed. Every request to an address is
// multiplexed on that connection; responses are matched to requests by opaque (§1.8), never by
// order. Each connection has one reader goroutine, owned by the Client, that:
//
//   - routes frames with the response flag to the waiting call (a response whose call has timed
//     out is dropped and logged at debug level);
//   - hands frames without it (requests the server starts, such as NOTIFY_CONSUMER_IDS_CHANGED)
//     to the handler registered with Handle, on a bounded set of goroutines, and answers with the
//     same opaque and the response flag unless the handler returns nil or the request is oneway.
//
// The reader sets a read deadline of Config.IdleTimeout before each frame: a connection that
// receives nothing for that long is closed (the Go client does the same with 120 s). A frame
// longer than Config.MaxFrameSize, or one that does not decode, closes the connection.
//
// Writes are serialized by a mutex and each frame is written with one Write call, so frames never
// interleave.
//
// # Calls
//
// Invoke waits for the response until the context is done (Config.DefaultTimeout applies when
// the context has no deadline). InvokeAsync returns once the request is written and calls the
// callback exactly once, from its own goroutine, with the response or an error. InvokeOneway sets
// the oneway flag bit (0x2) and returns once the request is written.
//
// # Errors
//
// Errors wrap ErrTimeout, ErrConnect, ErrConnClosed or ErrClosed and name the address and the
// request code. ErrTimeout also wraps the context's error.
package rpc

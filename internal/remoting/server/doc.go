// Package server is the gnet/v2 remoting server both daemons use: the per-connection frame
// decoder, the handler table by request code, bounded worker pools by request class, and
// server-to-client requests over a client's connection.
//
// # Event loop
//
// OnTraffic decodes every whole frame in the inbound buffer in a loop (gnet does not call it
// again for bytes left unread). As soon as the first 4 and then 8 bytes are there, the length and
// the serialization/header-length int are checked (remoting.CheckLength, remoting.CheckPrefix),
// so a frame with length < 4, length > MaxFrameSize, a header longer than the frame or an unknown
// serialization closes the connection at once, with a warn line giving the reason. A whole frame
// is copied out of gnet's buffers and decoded on the loop (the header without reflection or maps); a header that does not decode closes
// the connection too. Nothing else is affected.
//
//	frame: | length int32 | serType(1) hdrLen(3) | header | body |   (see package remoting)
//
// The loop never blocks: requests go to a pool with a non-blocking send; a full queue answers
// SYSTEM_BUSY (2). A code registered with SetInline runs on the loop itself whenever its
// predicate says the request cannot block (the broker's sends under ASYNC_MASTER with a healthy
// store): no hand-off to a worker, no wake for the answer, answered in arrival order. An unknown code answers REQUEST_CODE_NOT_SUPPORTED (3) with remark
// " request type N not supported". A request with the oneway bit is never answered. Frames with
// the response bit are answers to Conn.Invoke and are routed by opaque to the waiting call.
//
// # Workers
//
// Each pool is a fixed number of goroutines behind a bounded channel. Requests on one connection
// run concurrently, so a held long poll never delays a heartbeat on the same socket. A handler
// that returns nil answers later with Conn.WriteResponse (from any goroutine), or takes a
// Deferred (Conn.Defer) whose Answer fills opaque, flag and serialization and never blocks; the
// server counts owed Deferreds and Drain waits for them (the SYNC_FLUSH send path answers this way
// from the store's answering goroutine, so no worker waits for an msync). The server fills
// the response's opaque, response flag and serialization from the request. A handler panic is
// recovered, logged with its stack and answered with SYSTEM_ERROR (1).
//
// # Writes
//
// Responses are coalesced per connection: a worker (or an inline handler) encodes its response
// straight into the connection's outbound buffer (whole frames under a mutex, so frames never
// interleave) and, if no flush is pending, wakes the event loop (gnet Conn.Wake). A turn that
// reads marks a flush pending before it decodes, so nothing queued during the turn wakes the
// loop: the loop writes everything queued since the last write, inline answers included, with one
// write(2) at the end of the turn (a Wake alone writes at once), then swaps in the spare half of
// a double buffer. Responses may leave out of order, which the opaque allows. A response to a
// closed connection is dropped.
//
// # Headers and the authorizer
//
// Frames are decoded without building the ExtFields map and without a copy: in place in gnet's
// read buffer, into the connection's remoting.DecodeBuffer (remoting.DecodeFrameView). An inline
// request runs on that view and the frame is discarded after its handler returned; a request
// for a pool, and a response for a waiting Invoke, get a copy first (Command.Own). Handlers
// registered with Handle get the map, built on the worker; handlers registered with HandleRaw
// (send, pull) read typed headers from the raw list. An Authorizer set with SetAuthorizer runs on
// the worker before every handler and may refuse a request with a code and remark; it sees every
// raw ext field through Command.RangeExt.
//
// # Lifecycle
//
// Start runs gnet.Run on its own goroutine and returns after OnBoot (or the bind error; ReusePort
// is off, so a port in use fails). Addr reports the real port when Config.Addr has port 0, read
// from a duplicate of the listening descriptor. Shutdown stops the engine with Engine.Stop, which
// closes every connection, cancels the handlers' context, and waits for the workers and the close
// hooks. Close hooks run off the event loop, one goroutine per closed connection. Connections that
// send nothing for IdleTimeout (120 s) are closed by the engine ticker.
package server

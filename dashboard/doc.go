// Package dashboard is Skiff's built-in web dashboard: server-rendered pages of the cluster
// (overview, topics, consumer groups, producers, messages, dead-letter queues, broker
// configuration, name servers), each also as JSON, and the actions an operator takes from them.
//
// # Where it runs
//
// cmd/mqnamesrv mounts it on the name server's HTTP port for the whole cluster; cmd/mqbroker
// mounts it on each broker's HTTP port with Config.Scope set to that broker's address, so the
// same pages show that broker alone. The daemons never import it (namesrv/ and broker/ never
// import client/): the mains build it and hand Mounts() to the daemons' httpapi servers.
//
//	GET  /                        → 302 /dashboard/
//	GET  /dashboard/<page>?...    HTML (html/template from embed.FS)
//	GET  /api/dashboard/<page>?...the same data as JSON
//	GET  /dashboard/static/<file> style.css, htmx-2.0.11.min.js (vendored, see web/static/VENDORED.md)
//	POST /dashboard/action/<name> topic-update, topic-delete, topic-send, group-reset, group-skip,
//	                              message-resend, dlq-resend
//
// # Reading the cluster
//
// Everything comes through Source, which *admin.Admin implements over the remoting protocol: the
// dashboard holds no lock of a broker or store and never runs on a gnet event loop; brokers answer
// its requests on their admin worker pool from their tables and counters. Lists are paginated on
// the server (Config.PageSize rows, at most 500): the topic list is one name-server call, then
// one route request per row of the page; the group list is one subscription-group call per
// master, then the progress and connections of the page's groups only.
//
// # The sampler
//
// One goroutine (Start, Close) reads every broker's GET_BROKER_RUNTIME_INFO every
// Config.SampleInterval and keeps Config.History (one hour) of in/out TPS and replication lag per
// broker in memory only (nothing is written: the charts start empty when the process restarts);
// the overview renders from a copy of that state (model (b): a mutex that is never held during a
// cluster call). Times come from Config.Now.
//
// # Actions
//
// Every change passes act: POST only; a double-submit CSRF token (an HttpOnly SameSite=Strict
// cookie that the forms echo) and, when the browser sends one, an Origin equal to the host; then
// Config.Authorize, the single place that can demand admin credentials; then one log line and an
// audit entry naming who did what to which target, with the outcome. Resending a message copies
// it into %RETRY%<group> with RETRY_TOPIC set to its original topic and zero reconsume times, so
// only that group's consumers get it again, under its original topic.
//
// # Producers
//
// A broker records, per connection, the (producer group, topic) pairs of the sends it stored
// (broker/producerinfo.go: a copy-on-write set per connection, looked up without allocating on
// the send path, at most 256 pairs, dropped when the connection closes) and returns them with
// each connection in GET_ALL_PRODUCER_INFO; the producers page lists them and filters by group
// and topic.
//
// # Times
//
// Every time shown is UTC with the zone written out (TimeLayout); the time fields take RFC 3339,
// "YYYY-MM-DD HH:MM[:SS[.mmm]] UTC" or epoch milliseconds and refuse a time without a zone
// (parseTime).
//
// # Searching by time
//
// The search by topic and time range shows maxResults (64) messages a page in (store time,
// broker, queue, offset) order; the next page starts after the last one shown (the after
// parameter). Each queue is read from SEARCH_OFFSET_BY_TIMESTAMP of a millisecond before the
// page's lowest time, so that messages stored in the same millisecond are not skipped, up to
// maxResults+1 in range; the merge of the queues is the page.
//
// # Lag
//
// A lag is a number or an explanation, never -1: a queue without a committed offset, a group with
// no offsets on any broker (not consumed yet, or broadcasting, whose offsets stay on the client)
// and an unreachable broker are each said in words.
package dashboard

// Package processor holds the broker's request processors, in the spirit of RocketMQ's
// SendMessageProcessor, PullMessageProcessor, ClientManageProcessor, AdminBrokerProcessor and
// EndTransactionProcessor:
//   - Send (SEND_MESSAGE, SEND_MESSAGE_V2, SEND_BATCH_MESSAGE) and SendBack
//     (CONSUMER_SEND_MSG_BACK);
//   - Pull (PULL_MESSAGE);
//   - ClientManage (HEART_BEAT, UNREGISTER_CLIENT, GET_CONSUMER_LIST_BY_GROUP, LOCK/UNLOCK_BATCH_MQ)
//     and QueueOffsets (consumer offsets and queue offset queries);
//   - Admin (topics, subscription groups, metadata tables, statistics, offset reset, queries);
//   - Transactions (END_TRANSACTION and the check-back pass) and Schedule (delayed delivery);
//   - Writer, the one door every store write of the broker goes through.
//
// Each depends only on small interfaces (deps.go, and next to each processor) and on a Config
// snapshot, so a unit test drives it with fakes or a real store and real metadata tables in a
// temp dir; package broker wires the real store, metadata tables, HA master, client manager and
// long-poll service in, runs the loops, and keeps only the broker's own status requests (runtime
// info, configuration, connection listings).
//
// The processors read typed headers (package protocol) from the request's raw extFields list and
// answer with list headers: no map and no reflection per request. codes.go is the single table
// from store statuses to response codes.
package processor

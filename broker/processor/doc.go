// Package processor holds the broker's request processors, in the spirit of RocketMQ's
// SendMessageProcessor, PullMessageProcessor and EndTransactionProcessor: Send (SEND_MESSAGE,
// SEND_MESSAGE_V2, SEND_BATCH_MESSAGE), Pull (PULL_MESSAGE), Transactions (END_TRANSACTION and
// the check-back pass), Schedule (delivery of delayed messages) and Writer, the one door every
// store write of the broker goes through. Each depends only on small interfaces (deps.go:
// Store, Topics, Groups, Replicator, Subscriptions, Holder, Offsets; TxStore and Producers in
// transaction.go; ScheduleStore and DelayOffsets in schedule.go) and on a Config snapshot, so a
// unit test can drive it with fakes or a real store in a temp dir; package broker wires the real
// store, metadata tables, HA master, client manager and long-poll service in and runs the loops.
//
// The processors read typed headers (package protocol) from the request's raw extFields list and
// answer with list headers: no map and no reflection per request. codes.go is the single table
// from store statuses to response codes.
package processor

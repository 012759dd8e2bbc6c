// Package processor holds the broker's request processors for the hot paths, in the spirit of
// RocketMQ's SendMessageProcessor and PullMessageProcessor: Send (SEND_MESSAGE,
// SEND_MESSAGE_V2, SEND_BATCH_MESSAGE), Pull (PULL_MESSAGE) and Writer, the one door every store
// write of the broker goes through. Each depends only on the small interfaces declared in
// deps.go (Store, Topics, Groups, Replicator, Subscriptions, Holder, Offsets) and on a Config
// snapshot, so a unit test can drive it with fakes; package broker wires the real store,
// metadata tables, HA master and long-poll service in.
//
// Both processors read typed headers (package protocol) from the request's raw extFields list and
// answer with list headers: no map and no reflection per request. codes.go is the single table
// from store statuses to response codes.
package processor

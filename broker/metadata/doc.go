// Package metadata keeps the broker's configuration tables: topics, subscription groups, consumer
// offsets and delay-level offsets. Each table lives in memory under its own mutex (concurrency model
// (b) of the style guide: no table lock is held while another is taken) and is persisted as JSON
// under <storePathRootDir>/config/, written to a temporary file that is synced and renamed over the
// original, with the previous content kept as <file>.bak.
//
// Files (RocketMQ names and shapes, standard JSON):
//
//	topics.json            {"dataVersion":{"counter":N,"timestamp":T},"topicConfigTable":{"T":{TopicConfig}}}
//	subscriptionGroup.json {"dataVersion":{...},"subscriptionGroupTable":{"g":{SubscriptionGroupConfig}}}
//	consumerOffset.json    {"offsetTable":{"topic@group":{"0":12,"1":7}}}
//	delayOffset.json       {"offsetTable":{"1":0,"2":5}}
package metadata

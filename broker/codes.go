package broker

import "github.com/skiffmq/skiff/broker/processor"

// The store-status to response-code tables live in package processor (one table for every
// path); these names keep the broker's handlers short.
var (
	putCode       = processor.PutCode
	putStatusName = processor.PutStatusName
)

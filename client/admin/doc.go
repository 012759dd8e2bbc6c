// Package admin is Skiff's administration client: cluster and topic queries against name servers,
// and topic management and runtime queries against brokers. mqadmin is built on it.
//
// It speaks the RocketMQ 4.x remoting protocol through the SDK's shared client
// (client/internal/core), which owns the connections, the name-server failover and the error
// mapping for producers, consumers and this package alike. Every call takes a context; a context
// without a deadline gets the client's default timeout (WithTimeout, 5 s).
//
// # Requests
//
//	| Call                    | Code | To            | extFields                                       |
//	|-------------------------|------|---------------|-------------------------------------------------|
//	| ClusterInfo             | 106  | name server   | -                                               |
//	| TopicList               | 206  | name server   | -                                               |
//	| TopicRoute              | 105  | name server   | topic                                           |
//	| CreateTopic             | 17   | broker        | topic defaultTopic readQueueNums writeQueueNums |
//	|                         |      |               | perm topicFilterType topicSysFlag order         |
//	| DeleteTopic             | 215  | every master  | topic                                           |
//	|                         | 216  | every NS      | topic clusterName                               |
//	| BrokerRuntimeInfo       | 28   | broker        | -                                               |
//
// Name-server calls try the configured name servers in turn and move to the next one only on a
// transport error (connect failure, timeout, closed connection); an answer with an error code is
// returned at once.
//
// # Bodies
//
// Name servers and brokers answer with JSON that Java's fastjson may have written with unquoted
// integer map keys, e.g. the route body
//
//	{"brokerDatas":[{"brokerAddrs":{0:"127.0.0.1:10911"},"brokerName":"b","cluster":"c"}],
//	 "queueDatas":[{"brokerName":"b","perm":6,"readQueueNums":8,"topicSysFlag":0,"writeQueueNums":8}]}
//
// Unmarshal quotes such keys (never touching the contents of strings; the protocol's one fastjson
// reader) before the body goes to encoding/json, so both forms decode. Requests carry version 409, for which Skiff's name server
// answers with standard JSON anyway.
//
// # Errors
//
// Errors start with "admin: ", name the topic, cluster or address involved, and wrap one of the
// sentinels (ErrTopicNotExist, ErrTimeout, ErrConnect, ...) so errors.Is works; they are package
// client's sentinels, shared with producers and consumers. An error code from
// a server comes as a *BrokerError carrying the code, remark and address; it matches
// ErrTopicNotExist for TOPIC_NOT_EXIST (17).
package admin

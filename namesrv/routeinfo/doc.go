// Package routeinfo is the name server's route table (RocketMQ RouteInfoManager). Its types and
// the JSON bodies that carry them (described below) are internal/protocol's (route.go,
// routebodies.go, fastjson.go), shared with the brokers and the SDK.
//
// # Tables
//
//	topicQueue    topic       -> brokerName -> QueueData{readQueueNums, writeQueueNums, perm, topicSysFlag}
//	brokerAddrs   brokerName  -> BrokerData{cluster, brokerName, brokerAddrs: brokerId -> "ip:port"}
//	clusterAddrs  clusterName -> set of brokerName
//	live          brokerAddr  -> {lastUpdate, dataVersion, haServerAddr, connKey, timeout}
//
// Invariants (kept under Table.mu, the only lock):
//   - a broker name is in brokerAddrs only while it has at least one address;
//   - a cluster is in clusterAddrs only while it has at least one broker name;
//   - a topic is in topicQueue only while at least one broker name hosts it;
//   - removing a broker set's last address removes it from its cluster and from every topic.
//
// The table does no I/O and reads time only through the clock given to New, so expiry is tested by
// moving a fake clock. The name server calls ScanNotActive every scanNotActiveBrokerInterval and
// ConnClosed when a connection closes; both return what they removed so the caller can log and
// close connections.
//
// Registration follows RocketMQ 4.9.x with the 5.x rule for removed topics: a master registering
// for the first time, or with a DataVersion different from the stored one, has its queue data set
// from the body, and topics absent from the body lose this broker's queue data. Slaves' topic
// tables are ignored; a slave's registration result carries the live master's addresses.
//
// # Route body (GET_ROUTEINFO_BY_TOPIC), compact, fields in alphabetical order
//
//	{"brokerDatas":[{"brokerAddrs":{0:"10.0.0.1:10911",1:"10.0.0.2:10911"},"brokerName":"broker-a","cluster":"DefaultCluster"}],
//	 "filterServerTable":{},
//	 "orderTopicConf":"broker-a:4",            (only when set)
//	 "queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4}]}
//
// brokerAddrs keys are unquoted (fastjson) for requesters older than V4_9_4 (version < 401) and
// quoted (standard JSON, non-ASCII as \uXXXX) otherwise or with acceptStandardJsonOnly=true. The
// official Go client reads brokerAddrs as raw text, so it is always present ({} when empty) and
// never holds whitespace.
//
// # Cluster info body (GET_BROKER_CLUSTER_INFO)
//
//	{"brokerAddrTable":{"broker-a":{"brokerAddrs":{0:"10.0.0.1:10911"},"brokerName":"broker-a","cluster":"DefaultCluster"}},
//	 "clusterAddrTable":{"DefaultCluster":["broker-a"]}}
//
// # Register body (REGISTER_BROKER), JSON form, accepted standard or fastjson
//
//	{"filterServerList":[],
//	 "topicConfigSerializeWrapper":{"dataVersion":{"counter":12,"timestamp":1700000000000},
//	   "topicConfigTable":{"T":{"order":false,"perm":6,"readQueueNums":4,"topicFilterType":"SINGLE_TAG",
//	                            "topicName":"T","topicSysFlag":0,"writeQueueNums":4}}}}
//
// # Register body, compressed form (extField compressed=true): a zlib stream of
//
//	+------------+-------------------------------+
//	| int32 BE   | length L of the DataVersion JSON |
//	| L bytes    | DataVersion JSON                 |
//	| int32 BE   | topic count N                    |
//	| N times:   | int32 BE length, then "topicName readQueueNums writeQueueNums perm topicFilterType" |
//	| int32 BE   | length F of the filter server list JSON |
//	| F bytes    | filter server list JSON array    |
//	+------------+-------------------------------+
//
// topicSysFlag and order do not travel in the compressed form.
//
// protocol.StandardizeJSON turns fastjson's unquoted keys into quoted ones so encoding/json can read
// bodies from Java brokers and Java-style name servers; it never panics on arbitrary bytes (fuzzed).
package routeinfo

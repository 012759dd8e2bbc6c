// Package namesrv is Skiff's name server: the lifecycle (New, Start, Addr, Shutdown), the request
// processors and the housekeeping loop around the route table in namesrv/routeinfo.
//
// Name servers run side by side and share nothing; every broker registers with each of them every
// 30 s. A broker is removed from routes when its connection closes, when it unregisters, or when
// it has not registered for brokerChannelExpiredTime (120 s), checked every
// scanNotActiveBrokerInterval (10 s).
//
// # Requests (§2.3 of the protocol reference)
//
//	code  name                               extFields in            answer
//	 100  PUT_KV_CONFIG                      namespace key value     SUCCESS
//	 101  GET_KV_CONFIG                      namespace key           SUCCESS + ext value | QUERY_NOT_FOUND(22)
//	 102  DELETE_KV_CONFIG                   namespace key           SUCCESS
//	 103  REGISTER_BROKER                    brokerName brokerAddr   SUCCESS; slaves get ext masterAddr,
//	                                         clusterName brokerId    haServerAddr of the live master; body
//	                                         haServerAddr [bodyCrc32 {"table":{...}} of ORDER_TOPIC_CONFIG
//	                                         compressed]             when that namespace is not empty
//	 104  UNREGISTER_BROKER                  brokerName brokerAddr   SUCCESS
//	                                         clusterName brokerId
//	 105  GET_ROUTEINFO_BY_TOPIC             topic                   SUCCESS + route | TOPIC_NOT_EXIST(17)
//	                                         [acceptStandardJsonOnly]
//	 106  GET_BROKER_CLUSTER_INFO            -                       SUCCESS + ClusterInfo (fastjson form)
//	 205  WIPE_WRITE_PERM_OF_BROKER          brokerName              SUCCESS + ext wipeTopicCount
//	 206  GET_ALL_TOPIC_LIST_FROM_NAMESERVER -                       SUCCESS + {"topicList":[...]}
//	 216  DELETE_TOPIC_IN_NAMESRV            topic [clusterName]     SUCCESS
//	 219  GET_KVLIST_BY_NAMESPACE            namespace               SUCCESS + {"table":{...}} | 22
//	 224  GET_TOPICS_BY_CLUSTER              cluster                 SUCCESS + {"topicList":[...]}
//	 304  GET_SYSTEM_TOPIC_LIST_FROM_NS      -                       SUCCESS + {"brokerAddr":..,"topicList":[..]}
//	 318  UPDATE_NAMESRV_CONFIG              body key=value lines    SUCCESS | NO_PERMISSION(16) | SYSTEM_ERROR
//	 319  GET_NAMESRV_CONFIG                 -                       SUCCESS + key=value lines
//	 322  QUERY_DATA_VERSION                 brokerAddr (+ body      SUCCESS + ext changed, body = stored
//	                                         DataVersion JSON)       DataVersion JSON when known
//	 327  ADD_WRITE_PERM_OF_BROKER           brokerName              SUCCESS + ext addTopicCount
//
// With enableControllerInNamesrv = true the name server also runs a node of the failover
// controller (namesrv/controller, a hashicorp/raft group over controllerPeers) and serves the
// controller requests of internal/controlapi (904, 1001..1006) on this same port; a node that is
// not the Raft leader forwards them to the leader. A REGISTER_BROKER as brokerId 0 whose extField
// masterEpoch is older than one already seen for that broker name is refused (a deposed master
// cannot take the route back). Without the key nothing of this runs.
//
// A missing required extField is answered with SYSTEM_ERROR "the custom field <name> is null".
// REGISTER_BROKER checks bodyCrc32 (CRC-32 IEEE of the body & 0x7FFFFFFF; 0 or absent = no check)
// and answers SYSTEM_ERROR "crc32 not match" on a mismatch.
//
// Route bodies use the fastjson form (unquoted broker ids) for requesters with version < 401
// (V4_9_4, the official Go client sends 317) and standard JSON otherwise or with
// acceptStandardJsonOnly=true; see routeinfo for the byte layout.
//
// UPDATE_NAMESRV_CONFIG changes orderMessageEnable, scanNotActiveBrokerInterval and
// brokerChannelExpiredTime at runtime; Skiff does not write the change back to the TOML file.
// Other known keys answer SYSTEM_ERROR (cannot be changed at runtime), black-listed keys
// (kvConfigPath, configStorePath, configBlackList, rocketmqHome) NO_PERMISSION.
//
// # KV config file (kvConfigPath)
//
//	{"configTable":{"<namespace>":{"<key>":"<value>"}}}
//
// Rewritten on every change: written to <path>.tmp, synced, renamed over the file, folder synced.
//
// # Connections
//
// The server remembers which connection each broker address last registered on. When that
// connection closes, the broker is removed at once; when the expiry scan removes a broker, its
// connection is closed, as RocketMQ closes the channel.
package namesrv

package namesrv

// Request codes the name server serves (§2.3). They are spelled out here, with RocketMQ's names,
// so this package reads without a trip to the remoting code table.
const (
	codePutKVConfig              int32 = 100 // PUT_KV_CONFIG
	codeGetKVConfig              int32 = 101 // GET_KV_CONFIG
	codeDeleteKVConfig           int32 = 102 // DELETE_KV_CONFIG
	codeRegisterBroker           int32 = 103 // REGISTER_BROKER
	codeUnregisterBroker         int32 = 104 // UNREGISTER_BROKER
	codeGetRouteInfoByTopic      int32 = 105 // GET_ROUTEINFO_BY_TOPIC
	codeGetBrokerClusterInfo     int32 = 106 // GET_BROKER_CLUSTER_INFO
	codeWipeWritePermOfBroker    int32 = 205 // WIPE_WRITE_PERM_OF_BROKER
	codeGetAllTopicListFromNS    int32 = 206 // GET_ALL_TOPIC_LIST_FROM_NAMESERVER
	codeDeleteTopicInNamesrv     int32 = 216 // DELETE_TOPIC_IN_NAMESRV
	codeGetKVListByNamespace     int32 = 219 // GET_KVLIST_BY_NAMESPACE
	codeGetTopicsByCluster       int32 = 224 // GET_TOPICS_BY_CLUSTER
	codeGetSystemTopicListFromNS int32 = 304 // GET_SYSTEM_TOPIC_LIST_FROM_NS
	codeUpdateNamesrvConfig      int32 = 318 // UPDATE_NAMESRV_CONFIG
	codeGetNamesrvConfig         int32 = 319 // GET_NAMESRV_CONFIG
	codeQueryDataVersion         int32 = 322 // QUERY_DATA_VERSION
	codeAddWritePermOfBroker     int32 = 327 // ADD_WRITE_PERM_OF_BROKER
)

// Response codes (§2.2).
const (
	respSuccess       int32 = 0  // SUCCESS
	respSystemError   int32 = 1  // SYSTEM_ERROR
	respNoPermission  int32 = 16 // NO_PERMISSION
	respTopicNotExist int32 = 17 // TOPIC_NOT_EXIST
	respQueryNotFound int32 = 22 // QUERY_NOT_FOUND
)

// versionV494 is MQVersion V4_9_4: requesters at or above it get standard JSON routes.
const versionV494 int32 = 401

package protocol

// Request codes (§2.1). Names follow RocketMQ's RequestCode constants in Go style.
const (
	SendMessage                      int32 = 10
	PullMessage                      int32 = 11
	QueryMessage                     int32 = 12
	QueryBrokerOffset                int32 = 13
	QueryConsumerOffset              int32 = 14
	UpdateConsumerOffset             int32 = 15
	UpdateAndCreateTopic             int32 = 17
	UpdateAndCreateTopicList         int32 = 18
	GetAllTopicConfig                int32 = 21
	GetTopicConfigList               int32 = 22
	GetTopicNameList                 int32 = 23
	UpdateBrokerConfig               int32 = 25
	GetBrokerConfig                  int32 = 26
	TriggerDeleteFiles               int32 = 27
	GetBrokerRuntimeInfo             int32 = 28
	SearchOffsetByTimestamp          int32 = 29
	GetMaxOffset                     int32 = 30
	GetMinOffset                     int32 = 31
	GetEarliestMsgStoretime          int32 = 32
	ViewMessageByID                  int32 = 33
	HeartBeat                        int32 = 34
	UnregisterClient                 int32 = 35
	ConsumerSendMsgBack              int32 = 36
	EndTransaction                   int32 = 37
	GetConsumerListByGroup           int32 = 38
	CheckTransactionState            int32 = 39
	NotifyConsumerIdsChanged         int32 = 40
	LockBatchMQ                      int32 = 41
	UnlockBatchMQ                    int32 = 42
	GetAllConsumerOffset             int32 = 43
	GetAllDelayOffset                int32 = 45
	CheckClientConfig                int32 = 46
	GetClientConfig                  int32 = 47
	UpdateAndCreateACLConfig         int32 = 50
	DeleteACLConfig                  int32 = 51
	GetBrokerClusterACLInfo          int32 = 52
	UpdateGlobalWhiteAddrsConfig     int32 = 53
	PutKVConfig                      int32 = 100
	GetKVConfig                      int32 = 101
	DeleteKVConfig                   int32 = 102
	RegisterBroker                   int32 = 103
	UnregisterBroker                 int32 = 104
	GetRouteInfoByTopic              int32 = 105
	GetBrokerClusterInfo             int32 = 106
	UpdateAndCreateSubscriptionGroup int32 = 200
	GetAllSubscriptionGroupConfig    int32 = 201
	GetTopicStatsInfo                int32 = 202
	GetConsumerConnectionList        int32 = 203
	GetProducerConnectionList        int32 = 204
	WipeWritePermOfBroker            int32 = 205
	GetAllTopicListFromNameServer    int32 = 206
	DeleteSubscriptionGroup          int32 = 207
	GetConsumeStats                  int32 = 208
	SuspendConsumer                  int32 = 209
	ResumeConsumer                   int32 = 210
	ResetConsumerOffsetInConsumer    int32 = 211
	ResetConsumerOffsetInBroker      int32 = 212
	AdjustConsumerThreadPool         int32 = 213
	WhoConsumeTheMessage             int32 = 214
	DeleteTopicInBroker              int32 = 215
	DeleteTopicInNamesrv             int32 = 216
	RegisterTopicInNamesrv           int32 = 217
	GetKVListByNamespace             int32 = 219
	ResetConsumerClientOffset        int32 = 220
	GetConsumerStatusFromClient      int32 = 221
	InvokeBrokerToResetOffset        int32 = 222
	InvokeBrokerToGetConsumerStatus  int32 = 223
	GetTopicsByCluster               int32 = 224
	QueryTopicConsumeByWho           int32 = 300
	RegisterFilterServer             int32 = 301
	RegisterMessageFilterClass       int32 = 302
	QueryConsumeTimeSpan             int32 = 303
	GetSystemTopicListFromNS         int32 = 304
	GetSystemTopicListFromBroker     int32 = 305
	CleanExpiredConsumeQueue         int32 = 306
	GetConsumerRunningInfo           int32 = 307
	QueryCorrectionOffset            int32 = 308
	ConsumeMessageDirectly           int32 = 309
	SendMessageV2                    int32 = 310
	GetUnitTopicList                 int32 = 311
	GetHasUnitSubTopicList           int32 = 312
	GetHasUnitSubUnunitTopicList     int32 = 313
	CloneGroupOffset                 int32 = 314
	ViewBrokerStatsData              int32 = 315
	CleanUnusedTopic                 int32 = 316
	GetBrokerConsumeStats            int32 = 317
	UpdateNamesrvConfig              int32 = 318
	GetNamesrvConfig                 int32 = 319
	SendBatchMessage                 int32 = 320
	QueryConsumeQueue                int32 = 321
	QueryDataVersion                 int32 = 322
	ResumeCheckHalfMessage           int32 = 323
	SendReplyMessage                 int32 = 324
	SendReplyMessageV2               int32 = 325
	PushReplyMessageToClient         int32 = 326
	AddWritePermOfBroker             int32 = 327
	GetAllProducerInfo               int32 = 328
	DeleteExpiredCommitLog           int32 = 329
)

// Response codes (§2.2).
const (
	Success                            int32 = 0
	SystemError                        int32 = 1
	SystemBusy                         int32 = 2
	RequestCodeNotSupported            int32 = 3
	TransactionFailed                  int32 = 4
	FlushDiskTimeout                   int32 = 10
	SlaveNotAvailable                  int32 = 11
	FlushSlaveTimeout                  int32 = 12
	MessageIllegal                     int32 = 13
	ServiceNotAvailable                int32 = 14
	VersionNotSupported                int32 = 15
	NoPermission                       int32 = 16
	TopicNotExist                      int32 = 17
	TopicExistAlready                  int32 = 18
	PullNotFound                       int32 = 19
	PullRetryImmediately               int32 = 20
	PullOffsetMoved                    int32 = 21
	QueryNotFound                      int32 = 22
	SubscriptionParseFailed            int32 = 23
	SubscriptionNotExist               int32 = 24
	SubscriptionNotLatest              int32 = 25
	SubscriptionGroupNotExist          int32 = 26
	FilterDataNotExist                 int32 = 27
	FilterDataNotLatest                int32 = 28
	TransactionShouldCommit            int32 = 200
	TransactionShouldRollback          int32 = 201
	TransactionStateUnknow             int32 = 202
	TransactionStateGroupWrong         int32 = 203
	NoBuyerID                          int32 = 204
	NotInCurrentUnit                   int32 = 205
	ConsumerNotOnline                  int32 = 206
	ConsumeMsgTimeout                  int32 = 207
	NoMessage                          int32 = 208
	UpdateAndCreateACLConfigFailed     int32 = 209
	DeleteACLConfigFailed              int32 = 210
	UpdateGlobalWhiteAddrsConfigFailed int32 = 211
	FlowControl                        int32 = 215
)

// Versions (MQVersion ordinals, §1.3).
const (
	// VersionV4_5_2 is the version the official Go client v2.1.2 sends.
	VersionV4_5_2 int32 = 317
	// VersionV4_9_4 is the first version that asks the name server for standard JSON route bodies.
	VersionV4_9_4 int32 = 401
	// VersionV4_9_8 is RocketMQ 4.9.8.
	VersionV4_9_8 int32 = 409
	// CurrentVersion is the version Skiff puts in every command it originates or answers.
	CurrentVersion = VersionV4_9_8
)

// Flag bits (§1.3).
const (
	FlagResponse int32 = 1 << 0 // RPC_TYPE: the command is a response
	FlagOneway   int32 = 1 << 1 // RPC_ONEWAY: the receiver must not answer
)

// Header serialization types (§1.2).
const (
	SerializeJSON     byte = 0
	SerializeRocketMQ byte = 1
)

// Language names and their binary codes (§1.3).
var languageCodes = []string{
	"JAVA", "CPP", "DOTNET", "PYTHON", "DELPHI", "ERLANG", "RUBY", "OTHER", "HTTP", "GO", "PHP", "OMS", "RUST",
}

// languageOther is the binary code written for a language name that has no code.
const languageOther = 7

// LanguageName returns the name of binary language code b, "OTHER" for unknown codes.
func LanguageName(b int) string {
	if b >= 0 && b < len(languageCodes) {
		return languageCodes[b]
	}
	return languageCodes[languageOther]
}

// LanguageCode returns the binary code of a language name, the code of "OTHER" for unknown names.
func LanguageCode(name string) byte {
	for i, n := range languageCodes {
		if n == name {
			return byte(i)
		}
	}
	return languageOther
}

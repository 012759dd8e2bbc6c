package commitlog

// PutStatus is the outcome of an append.
type PutStatus int

// Put statuses (RocketMQ PutMessageStatus).
const (
	PutOK PutStatus = iota
	FlushDiskTimeout
	ServiceNotAvailable
	MessageIllegal
	PropertiesSizeExceeded
	CreateMappedFileFailed
	UnknownError
)

// PutResult describes an append.
type PutResult struct {
	Status          PutStatus
	CommitLogOffset int64 // of the first record
	QueueOffset     int64 // of the first record
	EndOffset       int64 // commit-log offset just past the last byte written
	MsgCount        int
	WroteBytes      int
	StoreTimestamp  int64
	Err             error // detail for logs when Status != PutOK
}

// GetStatus is the outcome of a consume-queue read (RocketMQ GetMessageStatus, §2.5).
type GetStatus int

// Get statuses.
const (
	Found GetStatus = iota
	NoMatchedMessage
	MessageWasRemoving
	OffsetFoundNull
	OffsetOverflowBadly
	OffsetOverflowOne
	OffsetTooSmall
	NoMatchedLogicQueue
	NoMessageInQueue
)

// GetResult is the answer to GetMessage.
type GetResult struct {
	Status                                GetStatus
	NextBeginOffset, MinOffset, MaxOffset int64
	Messages                              [][]byte // copies of whole stored records (slices of Body)
	Body                                  []byte   // every returned record, concatenated (a pull body)
	MaxPhyOffset                          int64    // commit-log end
	LastPhyOffset                         int64    // commit-log offset of the last message returned
}

// QueryResult is the answer to QueryMessage.
type QueryResult struct {
	Messages                 [][]byte
	IndexLastUpdateTimestamp int64
	IndexLastUpdatePhyoffset int64
}

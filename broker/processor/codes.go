package processor

import (
	"github.com/skiffmq/skiff/commitlog"
	"github.com/skiffmq/skiff/internal/remoting"
)

// PutCode maps a store put status onto the SEND_MESSAGE response code (§2.4 step 10). The single
// table of store and HA outcomes to protocol codes lives here.
func PutCode(s commitlog.PutStatus) int32 {
	switch s {
	case commitlog.PutOK:
		return remoting.Success
	case commitlog.FlushDiskTimeout:
		return remoting.FlushDiskTimeout
	case commitlog.MessageIllegal, commitlog.PropertiesSizeExceeded:
		return remoting.MessageIllegal
	case commitlog.ServiceNotAvailable:
		return remoting.ServiceNotAvailable
	default:
		return remoting.SystemError
	}
}

// PutStatusName is the remark sent with a non-OK put.
func PutStatusName(s commitlog.PutStatus) string {
	switch s {
	case commitlog.PutOK:
		return "PUT_OK"
	case commitlog.FlushDiskTimeout:
		return "FLUSH_DISK_TIMEOUT"
	case commitlog.ServiceNotAvailable:
		return "SERVICE_NOT_AVAILABLE"
	case commitlog.MessageIllegal:
		return "MESSAGE_ILLEGAL"
	case commitlog.PropertiesSizeExceeded:
		return "PROPERTIES_SIZE_EXCEEDED"
	case commitlog.CreateMappedFileFailed:
		return "CREATE_MAPEDFILE_FAILED"
	default:
		return "UNKNOWN_ERROR"
	}
}

// GetCode maps a store read status onto the PULL_MESSAGE response code (§2.5) for a master.
func GetCode(s commitlog.GetStatus, offset int64) int32 {
	switch s {
	case commitlog.Found:
		return remoting.Success
	case commitlog.NoMatchedMessage, commitlog.MessageWasRemoving:
		return remoting.PullRetryImmediately
	case commitlog.NoMatchedLogicQueue, commitlog.NoMessageInQueue:
		if offset != 0 {
			return remoting.PullOffsetMoved
		}
		return remoting.PullNotFound
	case commitlog.OffsetFoundNull, commitlog.OffsetOverflowOne:
		return remoting.PullNotFound
	case commitlog.OffsetOverflowBadly, commitlog.OffsetTooSmall:
		return remoting.PullOffsetMoved
	default:
		return remoting.PullNotFound
	}
}

// GetStatusName is the remark of a pull response (the Java broker puts the status name there).
func GetStatusName(s commitlog.GetStatus) string {
	switch s {
	case commitlog.Found:
		return "FOUND"
	case commitlog.NoMatchedMessage:
		return "NO_MATCHED_MESSAGE"
	case commitlog.MessageWasRemoving:
		return "MESSAGE_WAS_REMOVING"
	case commitlog.OffsetFoundNull:
		return "OFFSET_FOUND_NULL"
	case commitlog.OffsetOverflowBadly:
		return "OFFSET_OVERFLOW_BADLY"
	case commitlog.OffsetOverflowOne:
		return "OFFSET_OVERFLOW_ONE"
	case commitlog.OffsetTooSmall:
		return "OFFSET_TOO_SMALL"
	case commitlog.NoMatchedLogicQueue:
		return "NO_MATCHED_LOGIC_QUEUE"
	case commitlog.NoMessageInQueue:
		return "NO_MESSAGE_IN_QUEUE"
	default:
		return "UNKNOWN"
	}
}

// Package controller is the broker's side of controller mode (enableControllerMode = true): the
// deterministic parts that decide, from what the failover controller says, which role this
// replica plays, when a master may acknowledge writes, and how its SyncStateSet should change;
// and the epoch file. It does no network I/O and has no goroutines: package broker drives it from
// its controller loop, which owns time, the heartbeats and the role switches.
//
// # Roles (Node)
//
// A replica accepts a master epoch from the controller's answers and never goes back to an older
// one. Master of epoch E means: the controller named this replica master in E. A master accepts
// writes only while its lease holds: until (time the last successful heartbeat was sent) +
// controllerHeartBeatTimeoutMills. The controller declares a replica dead no earlier than that
// (it received the heartbeat after it was sent), so a partitioned master stops acknowledging
// before a new one can be elected.
//
// # SyncStateSet (SyncTracker)
//
// The master records when each slave last caught up (acknowledged the end the master had at the
// previous check). A member that has not caught up for haMaxTimeSlaveNotCatchup is proposed for
// removal; until the controller commits the change the master keeps waiting for it. A slave that
// catches up is first added to the set of replicas the master waits for (pending) with the
// master's end at that moment; once it has acknowledged that end it holds every acknowledged
// message, and it is proposed for the SyncStateSet. So every message acknowledged with
// allAckInSyncStateSet is on every member of the committed SyncStateSet, and the controller only
// elects from that set.
//
// # Epoch file (<storePathRootDir>/epochFile)
//
// One line per master epoch whose bytes this log holds, oldest first, written whole through
// internal/atomicfile (temporary file, fsync, previous content kept as epochFile.bak, rename,
// folder fsync):
//
//	<epoch> <startOffset>\n
//
// "3 1048576" means the bytes from offset 1048576 up to the next line's start (or the end of the
// log) were written by the master of epoch 3. A new master appends (its epoch, its end offset); a
// slave copies its master's lines after cutting its own log back to the last offset where both
// agree (controlapi.ConsistentOffset), so a deposed master's unacknowledged tail is dropped.
package controller

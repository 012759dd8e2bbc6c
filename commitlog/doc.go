// Package commitlog is the broker's storage engine: an mmap'd, append-only commit log in
// fixed-size segments, a consume queue per topic and queue id, a hash index by key, a flusher
// (ASYNC_FLUSH or SYNC_FLUSH group commit), a dispatcher that builds the consume queues and the
// index from the log, retention, and recovery driven by a checkpoint.
//
// # Files (under StorePathRootDir, RocketMQ's layout, §4 of the protocol reference)
//
//	commitlog/<20-digit start offset>            segments; records (internal/message) back to back
//	consumequeue/<topic>/<queueId>/<20 digits>   20-byte entries (consumequeue.go)
//	consumequeue/.ends                           queue ends at the last clean stop, a hint (cqends.go)
//	index/<yyyyMMddHHmmssSSS>                    hash index files (index.go)
//	checkpoint                                   durable offsets, two slots (checkpoint.go)
//	abort                                        present while a store is open
//	damaged/                                     original segments set aside by Repair
//
// # Durability
//
// Every file operation goes through Config.FS (package vfs), so tests can simulate a power loss
// (vfs.MemFS keeps only synced bytes) or inject errors (vfs.ErrorFS). New files are
// preallocated, fsynced and their folder synced before they are used. With SYNC_FLUSH a send is
// acknowledged only after the flusher's msync covered its record: a write registers a completion
// (PutMessagesThen / AfterFlush; PutMessages blocks on one) and one answering goroutine runs the
// callbacks the msync covered, in offset order, so no goroutine waits per write (complete.go).
// The first failed msync or fsync sticks (ErrFlushFailed): the store refuses writes and answers
// the SYNC_FLUSH writes still owed with it, and only a restart —
// which recovers from the last checkpoint — clears it. A write error that loses nothing (ENOSPC
// while creating a segment) clears itself once a probe finds space.
//
// # Recovery (recovery.go)
//
// The checkpoint is written after each consume-queue flush pass: the commit log is durable below
// its flushed offset F, and the consume queues and the index hold every record below its offset D
// (D ≤ F). After a clean stop (clean flag set, no abort marker) Open reads nothing: the log ends
// at F, and each consume queue's end is the one recorded at the clean stop (checked against two
// entries) or found by binary search in its last file. After a crash, Open
// verifies the records from D (and RecoverVerifyBytes before F) to the end of valid data,
// re-dispatches [D, end), zeroes the torn tail and removes later segments. A bad record before F
// is corruption, not a torn tail: Open fails with a *CorruptionError naming the file and offset,
// and changes nothing; Repair (repair.go, mqbroker --repair-store) moves the damaged segment
// aside and puts a copy in its place in which the unreadable bytes are a filler record, keeping
// every readable record at its offset.
//
// # Concurrency
//
// Appends are serialized by appendMu; the end of written data is published with an atomic and
// readers read only below it (the race detector cannot see mmap'd memory). One dispatcher
// goroutine writes the consume queues and the index under dispatchMu. Lock order is written on
// Store.
package commitlog

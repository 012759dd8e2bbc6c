// Package ha replicates the commit log from a master broker to its slaves with RocketMQ's classic
// HA protocol (§5.2 of the protocol reference): a raw TCP stream, not remoting frames.
//
// Slave → master, repeated (the first one is the request offset, later ones are acks):
//
//	offset size field
//	     0    8 slave's max commit-log offset (the next byte it needs)
//
// Master → slave, repeated:
//
//	offset size field
//	     0    8 commit-log offset of the first byte that follows
//	     8    4 size of the data (0 = heartbeat)
//	    12 size raw commit-log bytes [offset, offset+size)
//
// The master starts streaming at the slave's request offset, or, for an empty slave (offset 0), at
// its own min offset: the whole retained log (RocketMQ starts an empty slave at the master's last
// segment instead; Skiff copies everything so a consumer moving to the slave finds every message). Chunks are at most BatchSize bytes and never cross a
// segment end; they may split records. A report larger than the master's end means the slave's
// log diverged (it holds bytes the master does not have): the master logs it and closes the
// connection, and keeps refusing that slave. A slave that receives data for an offset other than
// its end closes the connection.
//
// Concurrency: each slave connection on the master has a reader goroutine (acks) and a writer
// goroutine (data), both owned by the Master and stopped by Close. Writes that wait for a
// slave's ack (SYNC_MASTER, controller mode) register with AfterAck and are answered, in offset
// order, by the master's one answering goroutine (acks.go); no goroutine or timer per write. The slave side has one
// connection loop and one heartbeat goroutine, owned by the Slave.
package ha

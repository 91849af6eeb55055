// The replication link's frames: see design.md "Replication protocol". Filled in by the
// replication module work; this file only anchors the target.
enum ReplicationFrameKind {}

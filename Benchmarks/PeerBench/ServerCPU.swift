import Foundation

/// The CPU time (user + system, all threads) the servers under test used, read from /proc, so a
/// part can report CPU per operation next to its rate: on a shared 2-core machine the rate moves
/// with the other load, the CPU an operation costs much less.
struct ServerCPU: Sendable {
    /// The servers' processes: Ripple's nodes, or PostgreSQL's postmaster.
    let pids: [Int32]

    /// Also counts the processes each of `pids` forked (PostgreSQL's backends, one per connection).
    var withChildren = false

    /// Seconds used so far. A child that already exited counts through its parent's `cutime`.
    func seconds() -> Double {
        var ticks = 0
        for pid in pids {
            guard let own = Self.stat(pid) else { continue }
            ticks += own.utime + own.stime + (withChildren ? own.cutime + own.cstime : 0)
        }
        if withChildren {
            let parents = Set(pids)
            for child in Self.allPids() where !parents.contains(child) {
                guard let stat = Self.stat(child), parents.contains(stat.ppid) else { continue }
                ticks += stat.utime + stat.stime
            }
        }
        return Double(ticks) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// The fields of /proc/PID/stat used here (proc(5): ppid is field 4, utime..cstime 14..17).
    private static func stat(_ pid: Int32) -> (ppid: Int32, utime: Int, stime: Int, cutime: Int, cstime: Int)? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let nameEnd = text.lastIndex(of: ")")
        else { return nil }
        // After the command name (which may hold spaces): field 3 (state) onwards.
        let fields = text[text.index(after: nameEnd)...].split(separator: " ")
        guard fields.count > 14, let ppid = Int32(fields[1]), let utime = Int(fields[11]), let stime = Int(fields[12]),
            let cutime = Int(fields[13]), let cstime = Int(fields[14])
        else { return nil }
        return (ppid, utime, stime, cutime, cstime)
    }

    private static func allPids() -> [Int32] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { Int32($0) }
    }

    init(pids: [Int32], withChildren: Bool = false) {
        self.pids = pids
        self.withChildren = withChildren
    }

    /// From a command line's `pid,pid,…`.
    init(_ list: String, withChildren: Bool = false) throws {
        let pids = list.split(separator: ",").map { Int32($0) }
        guard !pids.isEmpty, pids.allSatisfy({ $0 != nil }) else { throw PeerError("expected comma-separated process ids, got \(list)") }
        self.init(pids: pids.compactMap { $0 }, withChildren: withChildren)
    }
}

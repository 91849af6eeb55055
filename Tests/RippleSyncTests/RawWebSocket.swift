import Foundation

/// A WebSocket opened on a plain blocking socket: for sockets the server may refuse as soon as
/// they are upgraded (socket limits), where what the server sent must be seen exactly.
///
/// Hummingbird's client cannot be used for those: when the server's FatalError, close frame and
/// FIN arrive together with the 101 response, before the client has handed the channel to its
/// handler, the client occasionally loses all three and waits forever (seen once in ~40 runs
/// under load; the server's side had sent and closed). This client reads bytes until the server
/// closes the connection, so what the server sent is all there.
struct RawWebSocket {
    struct Reply {
        /// The HTTP status line of the upgrade response.
        var statusLine = ""
        /// Every text message, in order.
        var texts: [String] = []
        /// The code of the server's close frame, if it sent one.
        var closeCode: UInt16?
        /// The server closed the TCP connection before the read deadline.
        var serverClosed = false
    }

    /// Upgrades `path` on `host`:`port`, sends nothing more (so the server closes with an
    /// empty receive buffer: FIN, not RST), and reads until the server closes or `timeout`.
    static func listen(host: String = "127.0.0.1", port: Int, path: String = "/api/sync", timeout: Int = 10) async throws -> Reply {
        try await exchange(host: host, port: port, path: path, texts: [], timeout: timeout)
    }

    /// Upgrades, sends `texts` as text frames, and reads until the server closes, `done` holds
    /// for the texts received so far (then the client goes away without a close frame), or `timeout`.
    static func exchange(
        host: String = "127.0.0.1", port: Int, path: String = "/api/sync", texts: [String], timeout: Int = 10,
        until done: @escaping @Sendable ([String]) -> Bool = { _ in false }
    ) async throws -> Reply {
        // On a thread of its own: blocked in `recv` on the concurrency pool (two threads on a
        // two-core machine), it could starve the very node it waits for.
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try readAll(host: host, port: port, path: path, texts: texts, timeout: timeout, until: done) }) }.start()
        }
    }

    private static func readAll(host: String, port: Int, path: String, texts: [String], timeout: Int, until done: ([String]) -> Bool) throws -> Reply {
        let fd = try upgrade(host: host, port: port, path: path, timeout: timeout)
        defer { close(fd) }
        var framesSent = texts.isEmpty

        var received: [UInt8] = []
        var reply = Reply()
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = recv(fd, &chunk, chunk.count, 0)
            if count > 0 {
                received += chunk[0..<count]
                parse(received, into: &reply)
                // The frames go out once the upgrade is answered, and only if it was accepted.
                if !framesSent, !reply.statusLine.isEmpty {
                    framesSent = true
                    if reply.statusLine.hasPrefix("HTTP/1.1 101 ") { try sendAll(fd, texts.flatMap(maskedTextFrame)) }
                }
                if done(reply.texts) { return reply }
            } else {
                reply.serverClosed = count == 0
                break
            }
        }
        parse(received, into: &reply)
        return reply
    }

    /// A socket connected to `host`:`port` with the upgrade request for `path` sent, reads
    /// bounded by `timeout` seconds.
    fileprivate static func upgrade(host: String = "127.0.0.1", port: Int, path: String, timeout: Int) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr(host)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            let error = POSIXError(.init(rawValue: errno) ?? .ECONNREFUSED)
            close(fd)
            throw error
        }
        var deadline = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &deadline, socklen_t(MemoryLayout<timeval>.size))
        let request =
            "GET \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        do {
            try sendAll(fd, Array(request.utf8))
        } catch {
            close(fd)
            throw error
        }
        return fd
    }

    private static func sendAll(_ fd: Int32, _ bytes: [UInt8]) throws {
        guard send(fd, bytes, bytes.count, Int32(MSG_NOSIGNAL)) == bytes.count else { throw POSIXError(.EPIPE) }
    }

    /// Reads the status line and every whole frame of `received` into `reply`, from the start.
    private static func parse(_ received: [UInt8], into reply: inout Reply) {
        guard let headerEnd = find([13, 10, 13, 10], in: received) else { return }
        reply.statusLine = String(decoding: received[..<(find([13, 10], in: received) ?? headerEnd)], as: UTF8.self)
        reply.texts = []
        var frames = received[(headerEnd + 4)...]
        while let (opcode, payload, rest) = nextFrame(frames) {
            switch opcode {
            case 1: reply.texts.append(String(decoding: payload, as: UTF8.self))
            case 8 where payload.count >= 2: reply.closeCode = UInt16(payload[payload.startIndex]) << 8 | UInt16(payload[payload.startIndex + 1])
            default: break
            }
            frames = rest
        }
    }

    /// One client text frame: final, masked (as RFC 6455 requires of clients), its length in 7 or 16 bits.
    private static func maskedTextFrame(_ text: String) -> [UInt8] {
        let payload = Array(text.utf8)
        precondition(payload.count <= 0xFFFF, "no test message here is that long")
        var frame: [UInt8] = [0x81]
        if payload.count < 126 {
            frame.append(0x80 | UInt8(payload.count))
        } else {
            frame += [0x80 | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        }
        let mask: [UInt8] = [0x5A, 0x17, 0xC3, 0x9E]
        frame += mask
        frame += payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
        return frame
    }

    /// One unmasked, unfragmented server frame: (opcode, payload, the bytes after it).
    fileprivate static func nextFrame(_ bytes: ArraySlice<UInt8>) -> (UInt8, ArraySlice<UInt8>, ArraySlice<UInt8>)? {
        guard bytes.count >= 2 else { return nil }
        let start = bytes.startIndex
        var length = Int(bytes[start + 1] & 0x7f)
        var offset = start + 2
        if length == 126 {
            guard bytes.count >= 4 else { return nil }
            length = Int(bytes[start + 2]) << 8 | Int(bytes[start + 3])
            offset += 2
        } else if length == 127 {
            return nil  // no server message here is that long
        }
        guard bytes.endIndex - offset >= length else { return nil }
        return (bytes[start] & 0x0f, bytes[offset..<(offset + length)], bytes[(offset + length)...])
    }

    fileprivate static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        return (0...(haystack.count - needle.count)).first { haystack[$0..<($0 + needle.count)].elementsEqual(needle) }
    }
}

/// A sync socket on a plain blocking socket whose client answers pings (unless told not to) but
/// never the server's close frame: the client that could hold a node's drain, or one that
/// vanished. It sends text frames when told and reads until the server closes the connection.
final class UnansweringWebSocket: @unchecked Sendable {
    // One test task uses it at a time; the descriptor is closed in deinit.
    private let fd: Int32
    private var received: [UInt8] = []
    private var upgraded = false
    /// The code of the server's close frame, once it came.
    private(set) var closeCode: UInt16?

    private let answersPings: Bool

    init(port: Int, timeout: Int = 30, answersPings: Bool = true) throws {
        fd = try RawWebSocket.upgrade(port: port, path: "/api/sync", timeout: timeout)
        self.answersPings = answersPings
    }

    deinit { close(fd) }

    /// Sends `text` as one masked text frame.
    func sendText(_ text: String) throws {
        try sendFrame(opcode: 1, payload: Array(text.utf8))
    }

    /// Reads until a text message satisfies `done`; `nil` if the server closed first.
    func read(until done: @escaping @Sendable (String) -> Bool) async throws -> String? {
        try await Task.detached { try self.readFrames { opcode, payload in
            opcode == 1 && done(String(decoding: payload, as: UTF8.self))
        } }.value.map { String(decoding: $0, as: UTF8.self) }
    }

    /// Reads until the server's close frame, sends `afterClose` (no answering close), then reads
    /// until the server closes the connection. Returns whether it did before the read deadline.
    func readToEnd(sendingAfterClose afterClose: String) async throws -> Bool {
        try await Task.detached {
            if try self.readFrames(until: { opcode, _ in opcode == 8 }) != nil { try self.sendText(afterClose) }
            _ = try self.readFrames { _, _ in false }
            return self.closedByServer
        }.value
    }

    /// Reads until the server closes the connection; returns whether it did before the read
    /// deadline.
    func readUntilClosed() async throws -> Bool {
        try await Task.detached {
            _ = try self.readFrames { _, _ in false }
            return self.closedByServer
        }.value
    }

    private var closedByServer = false

    /// Reads frames, answering pings, until `done` accepts one (returns its payload) or the
    /// connection ends (returns `nil`).
    private func readFrames(until done: (UInt8, ArraySlice<UInt8>) -> Bool) throws -> ArraySlice<UInt8>? {
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            if !upgraded, let headerEnd = RawWebSocket.find([13, 10, 13, 10], in: received) {
                received.removeFirst(headerEnd + 4)
                upgraded = true
            }
            while upgraded, let (opcode, payload, rest) = RawWebSocket.nextFrame(received[...]) {
                received = Array(rest)
                if opcode == 8, payload.count >= 2 { closeCode = UInt16(payload[payload.startIndex]) << 8 | UInt16(payload[payload.startIndex + 1]) }
                if opcode == 9, answersPings { try sendFrame(opcode: 10, payload: Array(payload)) }
                if done(opcode, payload) { return payload }
            }
            let count = recv(fd, &chunk, chunk.count, 0)
            guard count > 0 else {
                closedByServer = count == 0
                return nil
            }
            received += chunk[0..<count]
        }
    }

    private func sendFrame(opcode: UInt8, payload: [UInt8]) throws {
        let mask: [UInt8] = [0x12, 0x34, 0x56, 0x78]
        var frame: [UInt8] = [0x80 | opcode]
        if payload.count < 126 {
            frame.append(0x80 | UInt8(payload.count))
        } else {
            frame += [0x80 | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xff)]
        }
        frame += mask
        frame += payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
        // The server may already have closed the connection: the frame is then lost, as it is
        // for a real client.
        _ = send(fd, frame, frame.count, Int32(MSG_NOSIGNAL))
    }
}

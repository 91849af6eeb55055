import Foundation
import RippleValues
import Testing

@testable import RippleAuth

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Discovery over real HTTP on loopback, through `HTTPDocumentFetcher` and `HTTPClient.shared`.
@Suite struct LiveDiscoveryTests {
    @Test func discoversKeysFromALoopbackIssuer() async throws {
        let signer = try await TestSigner.rsa(kid: "live")
        let server = try LoopbackHTTPServer()
        defer { server.stop() }
        let issuer = "http://127.0.0.1:\(server.port)"
        server.routes = [
            "/.well-known/openid-configuration": JSON.object([("issuer", .string(issuer)), ("jwks_uri", .string(issuer + "/keys"))]).serialized(),
            "/keys": jwksText([signer]),
        ]
        server.start()

        let auth = try Authenticator(
            config: AuthConfig(providers: [AuthProvider(domain: issuer, applicationID: testAudience)]),
            now: { testNow }
        )
        let token = try signer.token(claims(["iss": .string(issuer)]))
        let identity = try await auth.verify(userToken: token)
        #expect(identity.tokenIdentifier == "\(issuer)|user_123")
        #expect(server.paths == ["/.well-known/openid-configuration", "/keys"])
    }

    @Test func missingDocumentIsAFetchFailure() async throws {
        let signer = try await TestSigner.es256()
        let server = try LoopbackHTTPServer()
        defer { server.stop() }
        server.start()
        let issuer = "http://localhost:\(server.port)"
        let auth = try Authenticator(
            config: AuthConfig(providers: [AuthProvider(domain: issuer, applicationID: testAudience)]),
            now: { testNow }
        )
        guard case .keySetUnavailable(_, let reason) = await refusal(auth, try signer.token(claims(["iss": .string(issuer)]))) else {
            Issue.record("expected keySetUnavailable")
            return
        }
        #expect(reason.contains("404"))
    }
}

/// A one-request-per-connection HTTP/1.1 server on 127.0.0.1, port chosen by the kernel. Serves
/// `routes` as JSON and 404 for anything else. Just enough for discovery; test use only.
final class LoopbackHTTPServer: @unchecked Sendable {
    let port: Int
    private let listener: Int32
    private let lock = NSLock()
    private var _routes: [String: String] = [:]
    private var _paths: [String] = []
    private var thread: Thread?

    var routes: [String: String] {
        get { lock.withLock { _routes } }
        set { lock.withLock { _routes = newValue } }
    }
    var paths: [String] { lock.withLock { _paths } }

    struct SocketError: Error { let call: String }

    init() throws {
        #if canImport(Glibc)
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
            let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw SocketError(call: "socket") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 16) == 0 else {
            close(fd)
            throw SocketError(call: "bind/listen")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        self.listener = fd
        self.port = Int(UInt16(bigEndian: address.sin_port))
    }

    func start() {
        let thread = Thread { [self] in
            while true {
                let client = accept(listener, nil, nil)
                if client < 0 { return }
                serve(client)
            }
        }
        self.thread = thread
        thread.start()
    }

    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    private func serve(_ client: Int32) {
        defer { close(client) }
        var request = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !request.ends(with: Array("\r\n\r\n".utf8)) {
            let count = read(client, &buffer, buffer.count)
            if count <= 0 { return }
            request += buffer[..<count]
        }
        let line = String(decoding: request.prefix { $0 != UInt8(ascii: "\r") }, as: UTF8.self)
        let path = line.split(separator: " ").dropFirst().first.map(String.init) ?? "/"
        let body = lock.withLock {
            _paths.append(path)
            return _routes[path]
        }
        let status = body == nil ? "404 Not Found" : "200 OK"
        let payload = Array((body ?? "{}").utf8)
        let head = "HTTP/1.1 \(status)\r\nContent-Type: application/json\r\nContent-Length: \(payload.count)\r\nConnection: close\r\n\r\n"
        let response = Array(head.utf8) + payload
        _ = response.withUnsafeBytes { write(client, $0.baseAddress, $0.count) }
    }
}

extension Array where Element == UInt8 {
    fileprivate func ends(with suffix: [UInt8]) -> Bool {
        count >= suffix.count && Array(self[(count - suffix.count)...]) == suffix
    }
}

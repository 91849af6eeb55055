import Foundation

/// Keys must arrive over TLS; plain `http` is allowed only for a loopback host, where a local test
/// issuer runs and nothing crosses a network.
public enum TransportRule {
    /// `nil` when `url` may be fetched, else why not.
    public static func refusal(for url: URL) -> String? {
        guard let scheme = url.scheme?.lowercased(), let host = url.host, !host.isEmpty else {
            return "\(quoted(url.absoluteString)) is not an absolute http(s) URL"
        }
        switch scheme {
        case "https": return nil
        case "http" where isLoopback(host: host): return nil
        case "http": return "\(quoted(url.absoluteString)) uses plain http, which is allowed only for loopback hosts; use https"
        default: return "\(quoted(url.absoluteString)) is not an http(s) URL"
        }
    }

    /// `localhost`, `127.0.0.0/8` or `::1`.
    public static func isLoopback(host: String) -> Bool {
        var host = host.lowercased()
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host == "localhost" || host == "localhost." || host == "::1" || host == "0:0:0:0:0:0:0:1" { return true }
        let octets = host.split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4 else { return false }
        let values = octets.compactMap { $0.allSatisfy(\.isASCII) && !$0.isEmpty && $0.count <= 3 ? UInt8($0) : nil }
        return values.count == 4 && values[0] == 127
    }
}

/// A deployment's environment variables as functions see them (`ctx.env["ANTHROPIC_API_KEY"]`):
/// configuration and secrets set per deployment. Values never leave the node through Ripple:
/// this type prints no values, and action errors have every value of a secret-looking length
/// masked before a client or a log sees them (`redact`).
public struct DeploymentEnvironment: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    private let values: [String: String]

    /// Values shorter than this are not masked in errors: they are flags and ports, not secrets,
    /// and masking "1" would garble every message.
    static let shortestMaskedValue = 8

    public init(_ values: [String: String]) { self.values = values }

    /// The process environment minus the node's own settings (`RIPPLE_*`: the cluster secret and
    /// the admin key belong to the node, not to app code).
    public static func process(_ environment: [String: String]) -> DeploymentEnvironment {
        DeploymentEnvironment(environment.filter { !$0.key.hasPrefix("RIPPLE_") })
    }

    /// The value of `name`, or `nil` when it is unset or empty.
    public subscript(name: String) -> String? {
        guard let value = values[name], !value.isEmpty else { return nil }
        return value
    }

    public var description: String { "DeploymentEnvironment(\(values.keys.sorted().joined(separator: ", ")))" }
    public var debugDescription: String { description }

    /// `text` with every value of secret-looking length replaced by `[NAME redacted]`.
    public func redact(_ text: String) -> String {
        var result = text
        for (name, value) in values where value.count >= Self.shortestMaskedValue {
            result = result.replacing(value, with: "[\(name) redacted]")
        }
        return result
    }
}

/// Secrets left as the placeholders of `deploy/ripple.env.example` (`change-me`, `change-me-too`):
/// every copy of the example would share them, so a node refuses to start with one.
public enum PlaceholderSecret {
    /// Why `value` may not be the value of `setting`, or `nil` when it may.
    public static func refusal(_ value: String, setting: String) -> String? {
        guard value.lowercased().hasPrefix("change-me") else { return nil }
        return "\(setting) is still the placeholder \"\(value)\" from ripple.env.example; "
            + "set a random secret, e.g. the output of `head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \\n'`"
    }
}

import Logging

/// A logger whose messages also arrive on the returned stream, for tests that wait on
/// something only the log shows (a refusal, a step taken in the background).
public func recordingLogger(label: String = "ripple.tests", level: Logger.Level = .info) -> (Logger, AsyncStream<String>) {
    let (lines, continuation) = AsyncStream.makeStream(of: String.self)
    var logger = Logger(label: label) { _ in RecordingLogHandler(lines: continuation) }
    logger.logLevel = level
    return (logger, lines)
}

/// Hands every message's text to a stream.
public struct RecordingLogHandler: LogHandler {
    let lines: AsyncStream<String>.Continuation
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info

    public init(lines: AsyncStream<String>.Continuation) { self.lines = lines }

    public func log(event: LogEvent) {
        lines.yield(event.message.description)
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
}

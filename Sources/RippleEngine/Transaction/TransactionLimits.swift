import RippleValues

/// Convex's per-transaction limits. Each can be changed per engine.
public struct TransactionLimits: Sendable {
    public var maxBytesRead = 16 << 20
    public var maxDocumentsScanned = 32_000
    public var maxIndexRanges = 4_096
    public var maxDocumentsWritten = 16_000
    public var maxBytesWritten = 16 << 20
    public var document = DocumentLimits()
    /// The shape of the arguments a function is called with.
    public var arguments = ArgumentLimits()

    public init() {}
}

/// What one transaction has used so far; each `add` throws once a limit is crossed.
struct TransactionUsage {
    let limits: TransactionLimits
    var bytesRead = 0
    var documentsScanned = 0
    var indexRanges = 0
    var documentsWritten = 0
    var bytesWritten = 0

    mutating func scanned(bytes: Int) throws(TransactionError) {
        documentsScanned += 1
        bytesRead += bytes
        if documentsScanned > limits.maxDocumentsScanned {
            throw TransactionError(
                "Too many documents read in a single function execution (limit: \(limits.maxDocumentsScanned)). "
                    + "Consider using smaller limits in your queries, paginating your queries, or using indexed queries "
                    + "with a selective index range expression."
            )
        }
        if bytesRead > limits.maxBytesRead {
            throw TransactionError(
                "Too many bytes read in a single function execution (limit: \(limits.maxBytesRead) bytes). "
                    + "Consider using smaller limits in your queries, paginating your queries, or using indexed queries "
                    + "with a selective index range expression."
            )
        }
    }

    mutating func rangeRead() throws(TransactionError) {
        indexRanges += 1
        if indexRanges > limits.maxIndexRanges {
            throw TransactionError(
                "Too many reads in a single function execution (limit: \(limits.maxIndexRanges) index ranges). "
                    + "Consider combining queries or paginating."
            )
        }
    }

    mutating func wrote(bytes: Int) throws(TransactionError) {
        documentsWritten += 1
        bytesWritten += bytes
        if documentsWritten > limits.maxDocumentsWritten {
            throw TransactionError("Too many documents written in a single function execution (limit: \(limits.maxDocumentsWritten)).")
        }
        if bytesWritten > limits.maxBytesWritten {
            throw TransactionError("Too many bytes written in a single function execution (limit: \(limits.maxBytesWritten) bytes).")
        }
    }
}

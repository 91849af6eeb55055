import RippleProtocol
import RippleValues

/// One query as the server knows it: canonical path and arguments. Two subscriptions with equal
/// tokens share one server-side query, as in the JS client's `serializePathAndArgs`.
struct QueryToken: Hashable, Sendable {
    let udfPath: String
    let args: Value

    init(udfPath: String, args: Value) {
        self.udfPath = udfPath
        self.args = args
    }

    init<Kind, Args, Result>(_ reference: FunctionReference<Kind, Args, Result>, _ args: Args) throws(RippleClientError) {
        let request = try WireRequest(reference, args)
        self.init(udfPath: request.udfPath, args: request.args)
    }
}

/// A function call ready for the wire: the canonical path and the arguments object.
struct WireRequest: Sendable {
    let udfPath: String
    let args: Value

    init<Kind, Args, Result>(_ reference: FunctionReference<Kind, Args, Result>, _ args: Args) throws(RippleClientError) {
        do {
            udfPath = try UdfPath.canonical(reference.path)
        } catch {
            throw .invalidRequest(path: reference.path, reason: "\(error)")
        }
        let encoded: Value
        do {
            encoded = try ValueEncoder().encode(args)
        } catch {
            throw .invalidRequest(path: reference.path, reason: "the arguments do not encode: \(error)")
        }
        guard case .object = encoded else {
            throw .invalidRequest(path: reference.path, reason: "the arguments must encode as an object, not \(encoded.typeName)")
        }
        self.args = encoded
    }
}

/// What a query currently answers, as subscribers see it.
enum QueryOutcome: Sendable, Equatable {
    case value(Value)
    /// The query threw; `data` only for a ConvexError.
    case failure(message: String, data: Value?)
}

extension FunctionReference {
    /// Turns a server outcome into this reference's `Result` type, or the error a caller sees.
    func decode(_ outcome: QueryOutcome) -> Swift.Result<Result, RippleClientError> {
        switch outcome {
        case .value(let value): decode(value)
        case .failure(let message, let data): .failure(.functionFailed(path: path, message: message, data: data))
        }
    }

    func decode(_ value: Value) -> Swift.Result<Result, RippleClientError> {
        do {
            return .success(try ValueDecoder().decode(Result.self, from: value))
        } catch {
            return .failure(.unexpectedResult(path: path, reason: "\(error)"))
        }
    }
}

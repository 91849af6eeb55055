import RippleCron
import RippleValues

/// The typed function API: functions registered and called through `FunctionReference`
/// constants, taking a `Decodable` argument struct and returning any `Encodable` result.
///
///     enum Messages {
///         static let send = MutationReference<SendMessage, ID<Message>>("messages:sendMessage")
///     }
///     functions.mutation(Messages.send) { ctx, args in try ctx.db.insert(Message(...)) }
///
/// The argument validator is derived from the argument type (`Validator.derived(from:)`), so
/// clients see the same `ArgumentValidationError` as for hand-written validators, and the
/// handler gets the struct already decoded. Nothing here throws at registration: a type no
/// validator can be derived from stops the node at start-up, naming the function.

/// The kinds of function the scheduler and crons can run: mutations and actions.
public protocol SchedulableFunction: FunctionKindMarker {}
extension MutationFunction: SchedulableFunction {}
extension ActionFunction: SchedulableFunction {}

/// Marks the ids of scheduled jobs: `ID<ScheduledFunction>` is Convex's
/// `Id<"_scheduled_functions">`, validated as `v.id("_scheduled_functions")`.
public enum ScheduledFunction: NamedTable {
    public static let tableName = "_scheduled_functions"
}

// MARK: - Registering

extension FunctionRegistry {
    /// Registers a query under `reference`.
    public mutating func query<Args, Result>(
        _ reference: QueryReference<Args, Result>, visibility: Visibility = .public,
        _ handler: @escaping @Sendable (QueryContext, Args) throws -> Result
    ) {
        register(reference, visibility) { .query { ctx, arguments in try reference.run(arguments) { try handler(ctx, $0) } } }
    }

    /// Registers a mutation under `reference`.
    public mutating func mutation<Args, Result>(
        _ reference: MutationReference<Args, Result>, visibility: Visibility = .public,
        _ handler: @escaping @Sendable (MutationContext, Args) throws -> Result
    ) {
        register(reference, visibility) { .mutation { ctx, arguments in try reference.run(arguments) { try handler(ctx, $0) } } }
    }

    /// Registers an action under `reference`.
    public mutating func action<Args, Result>(
        _ reference: ActionReference<Args, Result>, visibility: Visibility = .public,
        _ handler: @escaping @Sendable (ActionContext, Args) async throws -> Result
    ) {
        register(reference, visibility) {
            .action { ctx, arguments in
                let args = try reference.decodeArguments(arguments)
                return try reference.encodeResult(try await handler(ctx, args))
            }
        }
    }

    /// A query only other functions (and admins) may call.
    public mutating func internalQuery<Args, Result>(
        _ reference: QueryReference<Args, Result>, _ handler: @escaping @Sendable (QueryContext, Args) throws -> Result
    ) { query(reference, visibility: .internal, handler) }

    /// A mutation only other functions, the scheduler and admins may call.
    public mutating func internalMutation<Args, Result>(
        _ reference: MutationReference<Args, Result>, _ handler: @escaping @Sendable (MutationContext, Args) throws -> Result
    ) { mutation(reference, visibility: .internal, handler) }

    /// An action only other functions, the scheduler and admins may call.
    public mutating func internalAction<Args, Result>(
        _ reference: ActionReference<Args, Result>, _ handler: @escaping @Sendable (ActionContext, Args) async throws -> Result
    ) { action(reference, visibility: .internal, handler) }

    private mutating func register<Kind, Args, Result>(
        _ reference: FunctionReference<Kind, Args, Result>, _ visibility: Visibility,
        _ handler: () -> FunctionDefinition.Handler
    ) {
        let validators: [String: Validator]?
        do {
            validators = try Validator.derivedFields(of: Args.self)
        } catch {
            problems.append("Function \(reference.path): its arguments \(error.message)")
            validators = nil
        }
        register(FunctionDefinition(path: reference.path, visibility: visibility, args: validators, handler: handler()))
    }

    /// Throws the first mistake found while registering typed functions, naming the function.
    public func checkDefinitions() throws(FunctionError) {
        if let problem = problems.first { throw FunctionError(.invalidUse, problem) }
    }
}

// MARK: - Crossing between typed and untyped values

extension FunctionReference {
    /// The arguments as the engine passes them: a Convex object.
    func encodeArguments(_ args: Args) throws -> [String: Value] {
        do {
            guard case .object(let fields) = try ValueEncoder().encode(args) else {
                throw UserError("\(Args.self) does not encode as an object")
            }
            return fields
        } catch {
            throw FunctionError(.invalidArguments, "ArgumentValidationError for \(path): cannot send \(Args.self): \(error)")
        }
    }

    /// The validated arguments as the handler's struct. Validation already checked their
    /// types; what is left is what the validator cannot say (an `Int` given 2.5), worded the
    /// same way.
    func decodeArguments(_ arguments: Arguments) throws -> Args {
        do {
            return try ValueDecoder().decode(Args.self, from: .object(arguments.fields))
        } catch let error as DecodingError {
            throw FunctionError(.invalidArguments, "ArgumentValidationError for \(path): \(error.readableDescription)")
        }
    }

    func encodeResult(_ result: Result) throws -> Value {
        do {
            return try ValueEncoder().encode(result)
        } catch {
            throw UserError("\(path) returned a \(Result.self) that is not a Convex value: \(error)")
        }
    }

    /// A result from another function as the caller's type.
    func decodeResult(_ value: Value) throws -> Result {
        do {
            return try ValueDecoder().decode(Result.self, from: value)
        } catch let error as DecodingError {
            throw UserError("\(path) returned a value that is not a \(Result.self): \(error.readableDescription)")
        }
    }

    /// Decodes, runs and encodes a synchronous handler.
    func run(_ arguments: Arguments, _ handler: (Args) throws -> Result) throws -> Value {
        try encodeResult(try handler(try decodeArguments(arguments)))
    }
}

extension DecodingError {
    /// The message without Swift's type names: the decoder's own text names the Convex path.
    var readableDescription: String {
        switch self {
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .keyNotFound(_, let context), .dataCorrupted(let context):
            context.debugDescription
        @unknown default:
            "\(self)"
        }
    }
}

// MARK: - Calling from actions

extension ActionContext {
    /// Runs a query with the caller's identity and reads its result as `Result`.
    public func runQuery<Args, Result>(_ query: QueryReference<Args, Result>, _ args: Args) async throws -> Result {
        let value = try await engine.query(query.path, try query.encodeArguments(args), identity: auth.identity, caller: .server).value
        return try query.decodeResult(value)
    }

    public func runQuery<Result>(_ query: QueryReference<NoArguments, Result>) async throws -> Result {
        try await runQuery(query, NoArguments())
    }

    /// Runs a mutation (its own transaction) with the caller's identity.
    @discardableResult
    public func runMutation<Args, Result>(_ mutation: MutationReference<Args, Result>, _ args: Args) async throws -> Result {
        let value = try await engine.mutation(mutation.path, try mutation.encodeArguments(args), identity: auth.identity, caller: .server).value
        return try mutation.decodeResult(value)
    }

    @discardableResult
    public func runMutation<Result>(_ mutation: MutationReference<NoArguments, Result>) async throws -> Result {
        try await runMutation(mutation, NoArguments())
    }

    /// Runs an action with the caller's identity.
    @discardableResult
    public func runAction<Args, Result>(_ action: ActionReference<Args, Result>, _ args: Args) async throws -> Result {
        let value = try await engine.action(action.path, try action.encodeArguments(args), identity: auth.identity, caller: .server)
        return try action.decodeResult(value)
    }

    @discardableResult
    public func runAction<Result>(_ action: ActionReference<NoArguments, Result>) async throws -> Result {
        try await runAction(action, NoArguments())
    }
}

// MARK: - Scheduling

extension Scheduler {
    /// Schedules `function` to run `delayMs` milliseconds after this mutation commits; returns the job's id.
    @discardableResult
    public func runAfter<Kind: SchedulableFunction, Args, Result>(
        _ delayMs: Double, _ function: FunctionReference<Kind, Args, Result>, _ args: Args
    ) throws -> ID<ScheduledFunction> {
        ID(try runAfter(delayMs, function.path, try function.encodeArguments(args)))
    }

    /// Schedules `function` at `timestampMs` (milliseconds since the epoch); returns the job's id.
    @discardableResult
    public func runAt<Kind: SchedulableFunction, Args, Result>(
        _ timestampMs: Double, _ function: FunctionReference<Kind, Args, Result>, _ args: Args
    ) throws -> ID<ScheduledFunction> {
        ID(try runAt(timestampMs, function.path, try function.encodeArguments(args)))
    }

    /// Cancels a pending job; one that already started or finished is left as it is.
    public func cancel(_ job: ID<ScheduledFunction>) throws { try cancel(job.rawValue) }
}

extension ActionScheduler {
    /// Schedules `function` to run `delayMs` milliseconds from now; returns the job's id.
    @discardableResult
    public func runAfter<Kind: SchedulableFunction, Args, Result>(
        _ delayMs: Double, _ function: FunctionReference<Kind, Args, Result>, _ args: Args
    ) async throws -> ID<ScheduledFunction> {
        ID(try await runAfter(delayMs, function.path, try function.encodeArguments(args)))
    }

    /// Schedules `function` at `timestampMs` (milliseconds since the epoch); returns the job's id.
    @discardableResult
    public func runAt<Kind: SchedulableFunction, Args, Result>(
        _ timestampMs: Double, _ function: FunctionReference<Kind, Args, Result>, _ args: Args
    ) async throws -> ID<ScheduledFunction> {
        ID(try await runAt(timestampMs, function.path, try function.encodeArguments(args)))
    }

    /// Cancels a pending job; one that already started or finished is left as it is.
    public func cancel(_ job: ID<ScheduledFunction>) async throws { try await cancel(job.rawValue) }
}

// MARK: - Crons

/// Crons declared with function references do not throw: a bad schedule or name is kept and
/// stops the node at start-up with the cron's name, as a cron naming a missing function does.
extension Crons {
    /// Runs `function` every `seconds + 60 × minutes + 3600 × hours`, aligned to the epoch.
    public mutating func interval<Kind: SchedulableFunction, Args, Result>(
        _ name: String, seconds: Int = 0, minutes: Int = 0, hours: Int = 0, _ function: FunctionReference<Kind, Args, Result>,
        _ args: Args
    ) {
        declare(function, args) { crons, path, args throws(CronError) in
            try crons.interval(name, seconds: seconds, minutes: minutes, hours: hours, path, args)
        }
    }

    public mutating func interval<Kind: SchedulableFunction, Result>(
        _ name: String, seconds: Int = 0, minutes: Int = 0, hours: Int = 0, _ function: FunctionReference<Kind, NoArguments, Result>
    ) { interval(name, seconds: seconds, minutes: minutes, hours: hours, function, NoArguments()) }

    /// Runs `function` every hour at `minuteUTC`.
    public mutating func hourly<Kind: SchedulableFunction, Args, Result>(
        _ name: String, minuteUTC: Int, _ function: FunctionReference<Kind, Args, Result>, _ args: Args
    ) {
        declare(function, args) { crons, path, args throws(CronError) in try crons.hourly(name, minuteUTC: minuteUTC, path, args) }
    }

    public mutating func hourly<Kind: SchedulableFunction, Result>(
        _ name: String, minuteUTC: Int, _ function: FunctionReference<Kind, NoArguments, Result>
    ) { hourly(name, minuteUTC: minuteUTC, function, NoArguments()) }

    /// Runs `function` every day at `hourUTC:minuteUTC`.
    public mutating func daily<Kind: SchedulableFunction, Args, Result>(
        _ name: String, hourUTC: Int, minuteUTC: Int, _ function: FunctionReference<Kind, Args, Result>, _ args: Args
    ) {
        declare(function, args) { crons, path, args throws(CronError) in
            try crons.daily(name, hourUTC: hourUTC, minuteUTC: minuteUTC, path, args)
        }
    }

    public mutating func daily<Kind: SchedulableFunction, Result>(
        _ name: String, hourUTC: Int, minuteUTC: Int, _ function: FunctionReference<Kind, NoArguments, Result>
    ) { daily(name, hourUTC: hourUTC, minuteUTC: minuteUTC, function, NoArguments()) }

    /// Runs `function` every week on `dayOfWeek` at `hourUTC:minuteUTC`.
    public mutating func weekly<Kind: SchedulableFunction, Args, Result>(
        _ name: String, dayOfWeek: Weekday, hourUTC: Int, minuteUTC: Int, _ function: FunctionReference<Kind, Args, Result>,
        _ args: Args
    ) {
        declare(function, args) { crons, path, args throws(CronError) in
            try crons.weekly(name, dayOfWeek: dayOfWeek, hourUTC: hourUTC, minuteUTC: minuteUTC, path, args)
        }
    }

    public mutating func weekly<Kind: SchedulableFunction, Result>(
        _ name: String, dayOfWeek: Weekday, hourUTC: Int, minuteUTC: Int, _ function: FunctionReference<Kind, NoArguments, Result>
    ) { weekly(name, dayOfWeek: dayOfWeek, hourUTC: hourUTC, minuteUTC: minuteUTC, function, NoArguments()) }

    /// Runs `function` every month on `day` at `hourUTC:minuteUTC`; months without that day are skipped.
    public mutating func monthly<Kind: SchedulableFunction, Args, Result>(
        _ name: String, day: Int, hourUTC: Int, minuteUTC: Int, _ function: FunctionReference<Kind, Args, Result>, _ args: Args
    ) {
        declare(function, args) { crons, path, args throws(CronError) in
            try crons.monthly(name, day: day, hourUTC: hourUTC, minuteUTC: minuteUTC, path, args)
        }
    }

    public mutating func monthly<Kind: SchedulableFunction, Result>(
        _ name: String, day: Int, hourUTC: Int, minuteUTC: Int, _ function: FunctionReference<Kind, NoArguments, Result>
    ) { monthly(name, day: day, hourUTC: hourUTC, minuteUTC: minuteUTC, function, NoArguments()) }

    /// Runs `function` at the minutes a 5-field cron expression (UTC) matches.
    public mutating func cron<Kind: SchedulableFunction, Args, Result>(
        _ name: String, _ expression: String, _ function: FunctionReference<Kind, Args, Result>, _ args: Args
    ) {
        declare(function, args) { crons, path, args throws(CronError) in try crons.cron(name, expression, path, args) }
    }

    public mutating func cron<Kind: SchedulableFunction, Result>(
        _ name: String, _ expression: String, _ function: FunctionReference<Kind, NoArguments, Result>
    ) { cron(name, expression, function, NoArguments()) }

    private mutating func declare<Kind, Args, Result>(
        _ function: FunctionReference<Kind, Args, Result>, _ args: Args,
        _ add: (inout Crons, String, [String: Value]) throws(CronError) -> Void
    ) {
        do {
            try add(&self, function.path, try function.encodeArguments(args))
        } catch let error as CronError {
            problems.append(error)
        } catch {
            problems.append(CronError(message: "Cron job for \(function.path): \(error)"))
        }
    }
}

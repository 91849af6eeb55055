// The public library: an app imports `Ripple` and gets what an app author writes with — the value
// model and schemas (RippleValues), cron schedules (RippleCron), and from the engine only the
// types re-exported one by one below: contexts, the database API, functions, HTTP actions, fetch
// and scheduling. The node's own machinery (`Engine`, replication's `apply`/`install(snapshot:)`,
// the commit feed, the `_system/*` functions) stays in RippleEngine, out of an app's reach.
@_exported import RippleCron
@_exported import RippleValues

// MARK: - Declaring an app

@_exported import struct RippleEngine.App
@_exported import struct RippleEngine.FunctionRegistry
@_exported import enum RippleEngine.FunctionKind
@_exported import enum RippleEngine.Visibility
@_exported import struct RippleEngine.Arguments
@_exported import protocol RippleEngine.ValueConvertible
@_exported import struct RippleEngine.DeploymentEnvironment

// MARK: - Contexts and the database

@_exported import struct RippleEngine.QueryContext
@_exported import struct RippleEngine.MutationContext
@_exported import struct RippleEngine.ActionContext
@_exported import class RippleEngine.DatabaseReader
@_exported import class RippleEngine.DatabaseWriter
@_exported import struct RippleEngine.SystemDatabaseReader
@_exported import struct RippleEngine.Document
@_exported import struct RippleEngine.Query
@_exported import struct RippleEngine.QueryInitializer
@_exported import struct RippleEngine.IndexRange
@_exported import enum RippleEngine.Order
@_exported import struct RippleEngine.PaginationOpts
@_exported import struct RippleEngine.PaginationResult
@_exported import struct RippleEngine.Page
@_exported import protocol RippleEngine.TableDocument
@_exported import struct RippleEngine.Stored
@_exported import struct RippleEngine.TypedQuery
@_exported import struct RippleEngine.TypedQueryInitializer
@_exported import struct RippleEngine.TypedIndexRange

// MARK: - Identity and errors

@_exported import struct RippleEngine.Auth
@_exported import struct RippleEngine.UserIdentity
@_exported import struct RippleEngine.ConvexError
@_exported import struct RippleEngine.UserError

// MARK: - Scheduling

@_exported import struct RippleEngine.Scheduler
@_exported import struct RippleEngine.ActionScheduler
@_exported import protocol RippleEngine.SchedulableFunction
@_exported import enum RippleEngine.ScheduledFunction
@_exported import struct RippleEngine.ScheduledJob
@_exported import enum RippleEngine.JobState

// MARK: - HTTP actions and fetch

@_exported import struct RippleEngine.HTTPRouter
@_exported import enum RippleEngine.HTTPMethod
@_exported import struct RippleEngine.HTTPActionRequest
@_exported import struct RippleEngine.HTTPActionResponse
@_exported import typealias RippleEngine.HTTPActionHandler
@_exported import struct RippleEngine.FetchRequest
@_exported import struct RippleEngine.FetchResponse
@_exported import struct RippleEngine.FetchBody
@_exported import struct RippleEngine.FetchError
@_exported import struct RippleEngine.ServerSentEvent
@_exported import struct RippleEngine.ServerSentEventStream

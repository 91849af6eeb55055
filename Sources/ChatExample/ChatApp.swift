import Foundation
import Ripple

/// The seed's chat app on Ripple: its schema and functions, addressed by the same paths the
/// Convex clients use (`messages:getMessages`, …).
public enum ChatApp {
    /// The chat app as its users run it.
    public static let app = make(diagnostics: false)

    /// The app plus the `diagnostics:*` functions the test suites drive through the official
    /// clients. They are public and unauthenticated (echo any value, move channel members,
    /// schedule batches of jobs), so they are never part of `app`; `chat` serves this variant
    /// only with `CHAT_DIAGNOSTICS=1`.
    public static let appWithDiagnostics = make(diagnostics: true)

    static func make(diagnostics: Bool) -> App {
        var functions = FunctionRegistry()
        registerUsers(&functions)
        registerChannels(&functions)
        registerMessages(&functions)
        registerAI(&functions)
        registerAIConversations(&functions)
        var http = HTTPRouter()
        registerClerkWebhook(&http, &functions)
        if diagnostics {
            registerDiagnostics(&functions)
            registerJobDiagnostics(&functions)
            registerHTTPDiagnostics(&http)
            registerChaos(&functions)
        }
        return App(schema: chatSchema, functions: functions, crons: crons(diagnostics: diagnostics), http: http)
    }
}

import Foundation
import Ripple

/// The seed's chat app on Ripple: its schema and functions, addressed by the same paths the
/// Convex clients use (`messages:getMessages`, …).
public enum ChatApp {
    public static let app: App = {
        var functions = FunctionRegistry()
        registerUsers(&functions)
        registerChannels(&functions)
        registerMessages(&functions)
        registerAI(&functions)
        registerDiagnostics(&functions)
        registerJobDiagnostics(&functions)
        return App(schema: chatSchema, functions: functions, crons: crons())
    }()
}

import ChatExample
import Foundation
import Ripple

// The seed's auth.config: one Clerk provider, its issuer from the environment.
let auth = AuthSettings(providers: [
    .init(domain: ProcessInfo.processInfo.environment["CLERK_JWT_ISSUER_DOMAIN"], applicationID: "convex")
])
// CHAT_DIAGNOSTICS=1 (the test suites) adds the public diagnostics functions; never in production.
let app = ProcessInfo.processInfo.environment["CHAT_DIAGNOSTICS"] == "1" ? ChatApp.appWithDiagnostics : ChatApp.app
await RippleMain.run(app, auth: auth)

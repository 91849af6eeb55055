import ChatExample
import Foundation
import Ripple

// The seed's auth.config: one Clerk provider, its issuer from the environment.
let auth = AuthSettings(providers: [
    .init(domain: ProcessInfo.processInfo.environment["CLERK_JWT_ISSUER_DOMAIN"], applicationID: "convex")
])
await RippleMain.run(ChatApp.app, auth: auth)

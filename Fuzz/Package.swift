// swift-tools-version:6.1
// libFuzzer targets for Ripple's parsers and codecs. Built only by `scripts/fuzz`, with
// `-sanitize=fuzzer,address -parse-as-library` on every module (so the code under test is
// instrumented too); never part of the root package's `swift build`.
//
// Every directory `Sources/Fuzz<Name>/` is one target: it defines
// `@_cdecl("LLVMFuzzerTestOneInput")` and nothing else at top level. `Corpus/Fuzz<Name>/`
// holds its seed inputs. Adding a target is adding those two directories.
import Foundation
import PackageDescription

let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
let targetNames = ((try? FileManager.default.contentsOfDirectory(atPath: here.appendingPathComponent("Sources").path)) ?? [])
    .filter { $0.hasPrefix("Fuzz") }
    .sorted()

let package = Package(
    name: "RippleFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [.package(name: "Ripple", path: "..")],
    targets: targetNames.map { name in
        .executableTarget(name: name, dependencies: [.product(name: "RippleInternals", package: "Ripple")])
    }
)

// swift-tools-version:6.1
// libFuzzer targets for Ripple's parsers and codecs. Built only by `scripts/fuzz`, with
// `-sanitize=fuzzer,address` on every module (so the code under test is instrumented too);
// never part of the root package's `swift build`.
//
// Every directory `Sources/Fuzz<Name>/` is one target: a file defining
// `@_cdecl("LLVMFuzzerTestOneInput")`, and `main.swift`, a symlink to `../../Support/main.swift`
// (scripts/fuzz makes it if missing). `Corpus/Fuzz<Name>/` holds its seed inputs.
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
    targets: [.target(name: "RippleFuzzMain")]
        + targetNames.map { name in
            .executableTarget(
                name: name,
                dependencies: ["RippleFuzzMain", .product(name: "RippleInternals", package: "Ripple")]
            )
        }
)

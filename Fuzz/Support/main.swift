// The entry point of every fuzz target (each target's main.swift links here): SwiftPM renames
// an executable's top-level code to `<Target>_main` and aliases `main` to it, so libFuzzer's
// driver is started from top-level code rather than from libFuzzer's own `main`.
import Foundation
import RippleFuzzMain

exit(ripple_fuzz_main(CommandLine.argc, CommandLine.unsafeArgv))

import Ripple
import RippleBenchApp

// A Ripple node serving the benchmarks' functions (BenchApp): `bench-server dev|writer|replica
// --data DIR --listen HOST:PORT ...`, the same command line as any Ripple app executable.
await RippleMain.run(BenchApp.app)

// The process entry point of every fuzz target. SwiftPM links an executable with
// `--defsym main=<Target>_main`, a symbol that `-parse-as-library` never emits; each target
// maps `<Target>_main` to this function (Package.swift), which hands control to libFuzzer.
#include <stddef.h>
#include <stdint.h>
#include "ripple_fuzz_main.h"

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*test_one_input)(const uint8_t *data, size_t size));
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int ripple_fuzz_main(int argc, char **argv) {
    return LLVMFuzzerRunDriver(&argc, &argv, LLVMFuzzerTestOneInput);
}

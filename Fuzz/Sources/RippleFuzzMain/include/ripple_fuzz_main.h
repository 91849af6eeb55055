/// libFuzzer's driver, run with the target's `LLVMFuzzerTestOneInput`.
int ripple_fuzz_main(int argc, char **argv);

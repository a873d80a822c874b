/* Fuzz targets share the libFuzzer entry points; standalone.c replays a
 * corpus through them without clang. */
#ifndef AS_FUZZ_H
#define AS_FUZZ_H
#include <stddef.h>
#include <stdint.h>
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* Shared declarations of the libFuzzer targets (one executable each). */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Test fixture for the firmware harness (tests/test_firmware.py): a hand-written
 * "model" with the API of a generated model library. It is not a real model.
 * Three layers: ADD (input + constant), LOOP (a fixed amount of arithmetic),
 * MUL (scale and clamp to int8). FIXTURE_MODE in model.c selects a fault. */
#ifndef TA_MODEL_H
#define TA_MODEL_H

#include <stdint.h>

#define TA_ARENA_SIZE   512
#define TA_INPUT_SIZE   64
#define TA_OUTPUT_SIZE  64
#define TA_NUM_LAYERS   3

extern const char *const ta_layer_names[TA_NUM_LAYERS];

int8_t *ta_input(uint8_t *arena);
int8_t *ta_output(uint8_t *arena);
int ta_invoke(uint8_t *arena);
void ta_profile_layer(int layer, int phase);

#endif /* TA_MODEL_H */

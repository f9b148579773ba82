/* Fixture "model": three layers over a 512-byte arena.
 * FIXTURE_MODE 0: normal; 1: layer 1 never ends (hang); 2: layer 1 reads an
 * unmapped address (hard fault). Tests rewrite this line to pick a mode. */
#define FIXTURE_MODE 0

#include "model.h"
#include "ta_fixture_ops.h"

extern const int8_t ta_fixture_constant[64];

const char *const ta_layer_names[TA_NUM_LAYERS] = {"ADD", "LOOP", "MUL"};

int8_t *ta_input(uint8_t *arena) { return (int8_t *)arena; }
int8_t *ta_output(uint8_t *arena) { return (int8_t *)(arena + 128); }

#ifdef TA_PROFILE
#define TA_LAYER_BEGIN(i) ta_profile_layer((i), 0)
#define TA_LAYER_END(i) ta_profile_layer((i), 1)
#else
#define TA_LAYER_BEGIN(i) ((void)0)
#define TA_LAYER_END(i) ((void)0)
#endif

int ta_invoke(uint8_t *arena)
{
    int8_t *in = (int8_t *)arena;
    int8_t *tmp = (int8_t *)(arena + 64);
    int8_t *out = (int8_t *)(arena + 128);

    TA_LAYER_BEGIN(0);
    ta_fixture_add(in, ta_fixture_constant, tmp, 64);
    TA_LAYER_END(0);

    TA_LAYER_BEGIN(1);
#if FIXTURE_MODE == 1
    for (volatile int spin = 0; spin >= 0; spin = (spin + 1) & 0xFFFF) {
    }
#elif FIXTURE_MODE == 2
    tmp[0] = (int8_t)(tmp[0] + *(volatile int8_t *)0xFFFFFFF0u);
#endif
    ta_fixture_loop(tmp, 64, 1000);
    TA_LAYER_END(1);

    TA_LAYER_BEGIN(2);
    ta_fixture_mul(tmp, out, 64, 3);
    TA_LAYER_END(2);
    return 0;
}

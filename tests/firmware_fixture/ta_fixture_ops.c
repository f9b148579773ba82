/* Fixture kernels: plain loops over int8 buffers. */
#include "ta_fixture_ops.h"

static int8_t clamp_int8(int32_t v)
{
    return (int8_t)(v > 127 ? 127 : (v < -128 ? -128 : v));
}

void ta_fixture_add(const int8_t *in, const int8_t *constant, int8_t *out, int n)
{
    for (int i = 0; i < n; ++i) {
        out[i] = clamp_int8((int32_t)in[i] + constant[i]);
    }
}

void ta_fixture_loop(int8_t *buf, int n, int rounds)
{
    for (int r = 0; r < rounds; ++r) {
        for (int i = 0; i < n; ++i) {
            buf[i] = (int8_t)(buf[i] ^ (int8_t)(r + i));
        }
    }
}

void ta_fixture_mul(const int8_t *in, int8_t *out, int n, int scale)
{
    for (int i = 0; i < n; ++i) {
        out[i] = clamp_int8(((int32_t)in[i] * scale) >> 2);
    }
}

/* Fixture kernels: plain loops over int8 buffers. */
#ifndef TA_FIXTURE_OPS_H
#define TA_FIXTURE_OPS_H

#include <stdint.h>

void ta_fixture_add(const int8_t *in, const int8_t *constant, int8_t *out, int n);
void ta_fixture_loop(int8_t *buf, int n, int rounds);
void ta_fixture_mul(const int8_t *in, int8_t *out, int n, int scale);

#endif

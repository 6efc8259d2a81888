/* SPDX-License-Identifier: Apache-2.0 */
/* Milliseconds: a monotonic clock for timeouts and budgets, the wall
 * clock for what is stored. */
#pragma once
#include <time.h>

static inline long long
clock_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline long long
clock_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

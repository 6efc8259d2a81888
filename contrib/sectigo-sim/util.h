/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sectigo-sim: small helpers shared by the simulator's files (atomic file
 * writes, random identifiers, SCM date strings).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

/**
 * Joins a directory and a file name with one slash.
 * @return a new string (caller frees with free()), or NULL when out of memory
 */
char *sim_path(const char *dir, const char *name);

/**
 * Writes a file through a temporary name and rename(2), so a reader never
 * sees a partial file.
 * @param mode permission bits of the new file
 * @return 0, or -1 with a message on stderr
 */
int sim_write_file(const char *path, const void *data, size_t len, mode_t mode);

/** @return 1 if path names an existing file, else 0 */
int sim_file_exists(const char *path);

/**
 * Fills buf with n random characters of [A-Za-z0-9] and a final NUL
 * (buf must hold n + 1 bytes).
 * @return 0, or -1 when the random generator fails
 */
int sim_random_alnum(char *buf, size_t n);

/** Formats t (UTC) as SCM's default date, MM/dd/yyyy, into buf[11]. */
void sim_format_date(time_t t, char buf[11]);

/**
 * Parses a whole string as a decimal long within [min, max].
 * @return 0 and *out, or -1 (out untouched)
 */
int sim_parse_long(const char *s, long min, long max, long *out);

/**
 * The next number of a splitmix64 generator (deterministic for a seed,
 * so fault-injection runs repeat); state is the seed, then updated.
 */
uint64_t sim_rng_next(uint64_t *state);

/** @return a uniform double in [0, 1) from the generator */
double sim_rng_unit(uint64_t *state);

/* SPDX-License-Identifier: Apache-2.0 */
/* Logging to stderr with a level threshold; thread-safe (one write per line). */
#pragma once

enum log_level {
	LOG_LVL_ERR,
	LOG_LVL_WARN,
	LOG_LVL_NOTICE,
	LOG_LVL_INFO,
	LOG_LVL_DEBUG
};

/** Set the threshold; messages above it are dropped. */
void log_set_level(enum log_level lvl);
/** Parse "err", "warn", "notice", "info", "debug"; -1 when unknown. */
int log_level_parse(const char *s);
enum log_level log_get_level(void);

void log_msg(enum log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_err(...) log_msg(LOG_LVL_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_LVL_NOTICE, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

/** Log the OpenSSL error queue at error level, prefixed by what, and clear it. */
void log_crypto_err(const char *what);

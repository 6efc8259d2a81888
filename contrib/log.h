/* SPDX-License-Identifier: Apache-2.0 */
/* Logging with a level threshold, as text or one JSON object per line, to
 * stderr or an append-only file; thread-safe (one write(2) per line). */
#pragma once
#include <stddef.h>

enum log_level {
	LOG_LVL_ERR,
	LOG_LVL_WARN,
	LOG_LVL_NOTICE,
	LOG_LVL_INFO,
	LOG_LVL_DEBUG
};

/** One key of an event: a string (str != NULL) or a number (str NULL and
 * is_num 1). A string key whose value is NULL is left out of the line. */
struct log_kv {
	const char *key; /* [a-z_]+, or NULL: the end of the list */
	const char *str; /* the value as text, or NULL */
	long long num;   /* the value when is_num */
	int is_num;
};

/* Initializers for a struct log_kv list; LOG_END closes it. */
#define LOG_S(k, v)                                                            \
	{                                                                      \
		(k), (v), 0, 0                                                 \
	}
#define LOG_I(k, v)                                                            \
	{                                                                      \
		(k), NULL, (long long)(v), 1                                   \
	}
#define LOG_END                                                                \
	{                                                                      \
		NULL, NULL, 0, 0                                               \
	}

/** Set the threshold; messages above it are dropped. */
void log_set_level(enum log_level lvl);
/** Parse "err", "warn", "notice", "info", "debug"; -1 when unknown. */
int log_level_parse(const char *s);
enum log_level log_get_level(void);
/** 1: one JSON object per line; 0: text (the default). Any thread. */
void log_set_json(int on);
/** Parse "text" or "json" into 0 or 1; -1 when unknown. */
int log_format_parse(const char *s);

/**
 * Log into path (append-only, created 0640) instead of stderr, or back to
 * stderr when path is NULL. Called again with the same path after the
 * file was moved away (logrotate), it opens a new file there: lines that
 * other threads are writing at that moment go to one file or the other,
 * never elsewhere (the descriptor number stays the same, dup2(2)).
 * @return 0, or -errno (the old destination stays in use)
 */
int log_set_file(const char *path);
/** Reopen the current log file (SIGHUP); 0 or -errno, 0 on stderr. */
int log_reopen(void);

/**
 * One event: a stable dotted name (e.g. "order.issued"), keys, then the
 * human sentence. Keys "order", "account", "connector" and "duration_ms"
 * go first, in that order; the others follow as given. Every value is
 * escaped: a control character never ends the line.
 * @param kv keys closed by LOG_END, or NULL
 */
void log_event(enum log_level lvl, const char *event, const struct log_kv *kv,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/** A free-form line: event "log" in JSON, today's text line otherwise. */
void log_msg(enum log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/**
 * Format one line into buf (no write): the text or JSON form of an
 * event at the wall time now_ms (milliseconds since 1970). The line
 * ends in '\n'; it is cut (still well-formed) when buf is short.
 * @param len at least 128
 * @return the line's length
 */
size_t log_format_line(char *buf, size_t len, int json, long long now_ms,
    enum log_level lvl, const char *event, const struct log_kv *kv,
    const char *msg);

#define log_err(...) log_msg(LOG_LVL_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_LVL_NOTICE, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

/** Log the OpenSSL error queue at error level, prefixed by what, and clear it. */
void log_crypto_err(const char *what);

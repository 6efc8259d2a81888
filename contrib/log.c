/* SPDX-License-Identifier: Apache-2.0 */
/* Logging: a level threshold, text or JSON lines, stderr or a file that
 * SIGHUP reopens. Every value is escaped so that no input starts a line. */
#include "contrib/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>

#define LINE_MAX_LEN 8192 /* one line at most, escapes included */
#define MSG_MAX_LEN 2048  /* the formatted sentence before escaping */

static atomic_int cur_level = LOG_LVL_INFO;
static atomic_int use_json;
/* The log file's descriptor number never changes once opened: a reopen
 * puts the new file behind it with dup3(2), so a thread that read it
 * just before writes into the old file or the new one, never into a
 * descriptor that was closed and handed out again. */
static atomic_int use_file;
static int file_fd = -1;
static char *file_path; /* under file_mu */
static pthread_mutex_t file_mu = PTHREAD_MUTEX_INITIALIZER;

static const char *const names[] = {"err", "warn", "notice", "info", "debug"};

void
log_set_level(enum log_level lvl)
{
	atomic_store(&cur_level, (int)lvl);
}

enum log_level
log_get_level(void)
{
	return (enum log_level)atomic_load(&cur_level);
}

int
log_level_parse(const char *s)
{
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i]) == 0)
			return (int)i;
	return -1;
}

void
log_set_json(int on)
{
	atomic_store(&use_json, on != 0);
}

int
log_format_parse(const char *s)
{
	if (strcmp(s, "text") == 0)
		return 0;
	if (strcmp(s, "json") == 0)
		return 1;
	return -1;
}

/* Open path behind file_fd (file_mu held). A file created here is
 * 0640 whatever the umask (the daemon's is 077): owner writes, a log
 * shipper in the group reads; no secret ever reaches a line. A file that
 * exists keeps the mode the operator (or logrotate's "create") gave it. */
static int
open_locked(const char *path)
{
	const int fl = O_WRONLY | O_APPEND | O_CLOEXEC | O_NOCTTY;
	int fd = open(path, fl | O_CREAT | O_EXCL, 0640);

	if (fd >= 0)
		(void)fchmod(fd, 0640);
	else if (errno == EEXIST)
		fd = open(path, fl);
	if (fd < 0)
		return -errno;
	if (file_fd < 0) {
		file_fd = fd;
		return 0;
	}
	if (dup3(fd, file_fd, O_CLOEXEC) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	close(fd);
	return 0;
}

int
log_set_file(const char *path)
{
	char *copy = NULL;
	int rc = 0;

	pthread_mutex_lock(&file_mu);
	if (path == NULL) {
		/* the descriptor stays open (a writer may hold its number) and
		 * is reused if a file is configured again */
		atomic_store(&use_file, 0);
		free(file_path);
		file_path = NULL;
		goto out;
	}
	copy = strdup(path);
	if (copy == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	rc = open_locked(path);
	if (rc != 0) {
		free(copy);
		goto out;
	}
	free(file_path);
	file_path = copy;
	atomic_store(&use_file, 1);
out:
	pthread_mutex_unlock(&file_mu);
	return rc;
}

int
log_reopen(void)
{
	int rc = 0;

	pthread_mutex_lock(&file_mu);
	if (file_path != NULL && atomic_load(&use_file))
		rc = open_locked(file_path);
	pthread_mutex_unlock(&file_mu);
	return rc;
}

/* A line under construction: appends that do not fit set cut and are
 * dropped whole, so an escape sequence is never split. */
struct lb {
	char *b;
	size_t n, cap;
	int cut;
};

static void
put(struct lb *l, const char *s, size_t k)
{
	if (l->cut || l->n + k > l->cap) {
		l->cut = 1;
		return;
	}
	memcpy(l->b + l->n, s, k);
	l->n += k;
}

static void
puts_(struct lb *l, const char *s)
{
	put(l, s, strlen(s));
}

/* The length of the valid UTF-8 sequence at s (1 to 4), or 0 for a byte
 * that does not start one (RFC 3629: no overlong forms, no surrogates,
 * nothing above U+10FFFF). */
static size_t
utf8_seq(const unsigned char *s, size_t left)
{
	unsigned c = s[0];
	size_t n;
	unsigned cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, cp = c & 0x07;
	else
		return 0;
	if (left < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return n;
}

/* s as the inside of a JSON string: quotes, backslashes and control
 * characters escaped, a byte that is not UTF-8 as U+FFFD. */
static void
esc_json(struct lb *l, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t left = strlen(str);
	char u[8];

	while (left > 0 && !l->cut) {
		size_t k = utf8_seq(s, left);

		if (k == 0) {
			puts_(l, "\\ufffd");
			k = 1;
		} else if (*s == '"' || *s == '\\') {
			u[0] = '\\', u[1] = (char)*s;
			put(l, u, 2);
		} else if (*s == '\n') {
			puts_(l, "\\n");
		} else if (*s == '\r') {
			puts_(l, "\\r");
		} else if (*s == '\t') {
			puts_(l, "\\t");
		} else if (*s < 0x20 || *s == 0x7f) {
			snprintf(u, sizeof(u), "\\u%04x", *s);
			put(l, u, 6);
		} else {
			put(l, (const char *)s, k);
		}
		s += k;
		left -= k;
	}
}

/* s in a text line: control characters and bytes that are not UTF-8 as
 * C escapes; quoted additionally escapes '"' and '\' (a key's value). */
static void
esc_text(struct lb *l, const char *str, int quoted)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t left = strlen(str);
	char u[8];

	while (left > 0 && !l->cut) {
		size_t k = utf8_seq(s, left);

		if (k == 0 || *s < 0x20 || *s == 0x7f) {
			if (k != 0 && *s == '\n')
				puts_(l, "\\n");
			else if (k != 0 && *s == '\t')
				puts_(l, "\\t");
			else if (k != 0 && *s == '\r')
				puts_(l, "\\r");
			else {
				snprintf(u, sizeof(u), "\\x%02x", *s);
				put(l, u, 4);
			}
			k = 1;
		} else if (quoted && (*s == '"' || *s == '\\')) {
			u[0] = '\\', u[1] = (char)*s;
			put(l, u, 2);
		} else {
			put(l, (const char *)s, k);
		}
		s += k;
		left -= k;
	}
}

/* A text value goes bare when it is plain: no space, quote, '=',
 * backslash, control character or non-ASCII byte. */
static int
text_plain(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if (c <= 0x20 || c >= 0x7f || c == '"' || c == '=' || c == '\\')
			return 0;
	}
	return 1;
}

static const char *const first_keys[] = {
    "order", "account", "connector", "duration_ms"};
#define N_FIRST (sizeof(first_keys) / sizeof(first_keys[0]))

static int
is_first_key(const char *k)
{
	for (size_t i = 0; i < N_FIRST; i++)
		if (strcmp(k, first_keys[i]) == 0)
			return 1;
	return 0;
}

/* One key and value; dropped whole when it does not fit. */
static void
put_kv(struct lb *l, int json, const struct log_kv *kv)
{
	size_t mark = l->n;
	char num[24];

	if (l->cut || (!kv->is_num && kv->str == NULL))
		return;
	if (kv->is_num)
		snprintf(num, sizeof(num), "%lld", kv->num);
	if (json) {
		puts_(l, ",\"");
		esc_json(l, kv->key);
		puts_(l, "\":");
		if (kv->is_num) {
			puts_(l, num);
		} else {
			puts_(l, "\"");
			esc_json(l, kv->str);
			puts_(l, "\"");
		}
	} else {
		puts_(l, " ");
		esc_text(l, kv->key, 1);
		puts_(l, "=");
		if (kv->is_num) {
			puts_(l, num);
		} else if (text_plain(kv->str)) {
			puts_(l, kv->str);
		} else {
			puts_(l, "\"");
			esc_text(l, kv->str, 1);
			puts_(l, "\"");
		}
	}
	if (l->cut)
		l->n = mark;
}

/* The keys in their stable order: the well-known ones first. */
static void
put_keys(struct lb *l, int json, const struct log_kv *kv)
{
	if (kv == NULL)
		return;
	for (size_t i = 0; i < N_FIRST; i++)
		for (const struct log_kv *p = kv; p->key != NULL; p++)
			if (strcmp(p->key, first_keys[i]) == 0) {
				put_kv(l, json, p);
				break;
			}
	for (const struct log_kv *p = kv; p->key != NULL; p++)
		if (!is_first_key(p->key))
			put_kv(l, json, p);
}

size_t
log_format_line(char *buf, size_t len, int json, long long now_ms,
    enum log_level lvl, const char *event, const struct log_kv *kv,
    const char *msg)
{
	/* room kept for what closes the line: "}, '"' and '\n' */
	struct lb l = {buf, 0, len > 64 ? len - 4 : 0, 0};
	char ts[96];
	time_t sec = (time_t)(now_ms / 1000);
	struct tm tm;
	int lv = (int)lvl;

	if (lv < 0 || lv > LOG_LVL_DEBUG)
		lv = LOG_LVL_ERR;
	gmtime_r(&sec, &tm);
	snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	    tm.tm_sec, (int)(now_ms % 1000));
	if (json) {
		puts_(&l, "{\"time\":\"");
		puts_(&l, ts);
		puts_(&l, "\",\"level\":\"");
		puts_(&l, names[lv]);
		puts_(&l, "\",\"event\":\"");
		esc_json(&l, event != NULL ? event : "log");
		puts_(&l, "\"");
		/* the keys leave room for the sentence's key */
		l.cap -= 16;
		put_keys(&l, 1, kv);
		l.cap += 16;
		/* the sentence may be cut, never left out */
		l.cut = 0;
		puts_(&l, ",\"msg\":\"");
		esc_json(&l, msg);
		buf[l.n++] = '"';
		buf[l.n++] = '}';
	} else {
		puts_(&l, ts);
		puts_(&l, " ");
		puts_(&l, names[lv]);
		puts_(&l, ": ");
		esc_text(&l, msg, 0);
		if (event != NULL) {
			put_kv(&l, 0, &(struct log_kv)LOG_S("event", event));
			put_keys(&l, 0, kv);
		}
	}
	buf[l.n++] = '\n';
	return l.n;
}

static void emit(enum log_level lvl, const char *event, const struct log_kv *kv,
    const char *fmt, va_list ap) __attribute__((format(printf, 4, 0)));

static void
emit(enum log_level lvl, const char *event, const struct log_kv *kv,
    const char *fmt, va_list ap)
{
	char msg[MSG_MAX_LEN], line[LINE_MAX_LEN];
	struct timespec ts;
	size_t n;
	int fd;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
		msg[0] = '\0';
	n = log_format_line(line, sizeof(line), atomic_load(&use_json),
	    (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, lvl, event, kv,
	    msg);
	fd = atomic_load(&use_file) ? file_fd : STDERR_FILENO;
	/* one write(2) per line so threads do not interleave */
	if (write(fd, line, n) < 0)
		return;
}

void
log_event(enum log_level lvl, const char *event, const struct log_kv *kv,
    const char *fmt, ...)
{
	va_list ap;

	if ((int)lvl > atomic_load(&cur_level))
		return;
	va_start(ap, fmt);
	emit(lvl, event, kv, fmt, ap);
	va_end(ap);
}

void
log_msg(enum log_level lvl, const char *fmt, ...)
{
	va_list ap;

	if ((int)lvl > atomic_load(&cur_level))
		return;
	va_start(ap, fmt);
	emit(lvl, NULL, NULL, fmt, ap);
	va_end(ap);
}

void
log_crypto_err(const char *what)
{
	unsigned long e;
	char buf[256];
	int logged = 0;

	while ((e = ERR_get_error()) != 0) {
		ERR_error_string_n(e, buf, sizeof(buf));
		log_err("%s: %s", what, buf);
		logged = 1;
	}
	if (!logged)
		log_err("%s: crypto failure", what);
}

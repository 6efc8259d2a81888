/* SPDX-License-Identifier: Apache-2.0 */
/* sd_notify(3) messages for systemd's Type=notify and WatchdogSec=. */
#include "proxy/notify.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "contrib/log.h"

/* One server per process: the watchdog timer is process state. */
static struct event *watchdog_ev;

#ifdef HAVE_SYSTEMD
/* sd_notify returns 0 when NOTIFY_SOCKET is unset (not under a manager):
 * only a failed send is worth a line, and never fatal. */
static void
send_state(const char *state)
{
	int rc = sd_notify(0, state);

	if (rc < 0)
		log_warn("sd_notify: %.40s: error %d", state, rc);
}

static void
on_watchdog(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	send_state("WATCHDOG=1");
}
#endif

void
px_notify_ready(const char *fmt, ...)
{
#ifdef HAVE_SYSTEMD
	char status[256], msg[300];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(status, sizeof(status), fmt, ap);
	va_end(ap);
	snprintf(msg, sizeof(msg), "READY=1\nSTATUS=%s", status);
	send_state(msg);
#else
	(void)fmt;
#endif
}

void
px_notify_reloading(void)
{
#ifdef HAVE_SYSTEMD
	struct timespec ts;
	char msg[128];

	/* MONOTONIC_USEC lets systemd >= 253 (Type=notify-reload) tell this
	 * reload from an earlier one; systemd 252 ignores it */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(msg, sizeof(msg),
	    "RELOADING=1\nSTATUS=reloading the configuration\n"
	    "MONOTONIC_USEC=%llu",
	    (unsigned long long)ts.tv_sec * 1000000ULL +
	        (unsigned long long)ts.tv_nsec / 1000);
	send_state(msg);
#endif
}

void
px_notify_stopping(void)
{
#ifdef HAVE_SYSTEMD
	send_state("STOPPING=1\nSTATUS=shutting down");
#endif
}

int
px_notify_watchdog_start(struct event_base *base)
{
#ifdef HAVE_SYSTEMD
	uint64_t usec = 0;
	struct timeval half;
	int rc;

	if (watchdog_ev != NULL)
		return 0;
	/* > 0 only when WATCHDOG_USEC is set and WATCHDOG_PID (if set) is
	 * this process: a child never answers for its parent */
	rc = sd_watchdog_enabled(0, &usec);
	if (rc <= 0 || usec == 0) {
		if (rc < 0)
			log_warn("watchdog: WATCHDOG_USEC is not usable "
			         "(error %d): no watchdog",
			    rc);
		return 0;
	}
	usec /= 2;
	half.tv_sec = (time_t)(usec / 1000000);
	half.tv_usec = (suseconds_t)(usec % 1000000);
	watchdog_ev = event_new(base, -1, EV_PERSIST, on_watchdog, NULL);
	if (watchdog_ev == NULL || event_add(watchdog_ev, &half) != 0) {
		log_err("watchdog: cannot start the timer");
		px_notify_watchdog_stop();
		return -1;
	}
	/* the first ping now: the interval counts from READY=1 */
	send_state("WATCHDOG=1");
	log_info("watchdog: a ping every %lld ms", (long long)(usec / 1000));
#else
	(void)base;
#endif
	return 0;
}

void
px_notify_watchdog_stop(void)
{
	if (watchdog_ev != NULL) {
		event_free(watchdog_ev);
		watchdog_ev = NULL;
	}
}

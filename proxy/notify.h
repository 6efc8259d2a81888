/* SPDX-License-Identifier: Apache-2.0 */
/* The service manager's view of the server: sd_notify(3) readiness,
 * reload and stop messages and the watchdog. Without libsystemd (cmake
 * -DENABLE_SYSTEMD=OFF) every call is a no-op. */
#pragma once
#include <event2/event.h>

/**
 * READY=1 with a STATUS= line (printf format): the listeners are bound and
 * the database is open. Also ends a reload (after px_notify_reloading).
 */
void px_notify_ready(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
/** RELOADING=1 (with MONOTONIC_USEC=) when a SIGHUP reload starts. */
void px_notify_reloading(void);
/** STOPPING=1 when the server starts shutting down. */
void px_notify_stopping(void);
/**
 * When the manager asked for a watchdog (WATCHDOG_USEC= for this process),
 * send WATCHDOG=1 from a timer on base at half the interval: base is the
 * serving thread's loop, so a serving thread that hangs stops the pings
 * and the manager restarts the service. Without a watchdog nothing
 * happens. @return 0, or -1 when the timer cannot be set up (logged).
 */
int px_notify_watchdog_start(struct event_base *base);
/** Stop the watchdog timer (before base is freed); safe to call twice. */
void px_notify_watchdog_stop(void);

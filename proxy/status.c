/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The admin listener's status page: plain HTML and an SVG drawn here, no
 * scripts, no external resources. Names, errors and serials come from the
 * database and SCM, which clients influence: every one is escaped. Every
 * query is bounded (LIMIT, or a GROUP BY over a bounded range).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "contrib/metrics.h"
#include "proxy/admin_int.h"

#define TIMELINE_DAYS 90
#define LIST_MAX 25 /* rows per table */

/* HTML text and attribute values. */
static void
esc(FILE *f, const char *s)
{
	for (; s != NULL && *s != '\0'; s++) {
		switch (*s) {
		case '&':
			fputs("&amp;", f);
			break;
		case '<':
			fputs("&lt;", f);
			break;
		case '>':
			fputs("&gt;", f);
			break;
		case '"':
			fputs("&quot;", f);
			break;
		case '\'':
			fputs("&#39;", f);
			break;
		default:
			fputc(*s, f);
		}
	}
}

static const char *
jstr(json_t *row, const char *k)
{
	const char *s = json_string_value(json_object_get(row, k));
	return s != NULL ? s : "";
}

static long long
jint(json_t *row, const char *k)
{
	return json_integer_value(json_object_get(row, k));
}

static void
utc(FILE *f, long long t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	char buf[32];

	if (t <= 0 || gmtime_r(&tt, &tm) == NULL) {
		fputs("never", f);
		return;
	}
	strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M UTC", &tm);
	fputs(buf, f);
}

static void
ago(FILE *f, long long now, long long t)
{
	long long d = now - t;

	if (t <= 0)
		fputs("never", f);
	else if (d < 120)
		fprintf(f, "%lld s ago", d);
	else if (d < 7200)
		fprintf(f, "%lld min ago", d / 60);
	else if (d < 172800)
		fprintf(f, "%lld h ago", d / 3600);
	else
		fprintf(f, "%lld days ago", d / 86400);
}

static const char STYLE[] =
    "body{font-family:sans-serif;margin:1.5em;color:#222;background:#fff}"
    "h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em;"
    "border-bottom:1px solid #ccc}"
    "table{border-collapse:collapse;font-size:.9em}"
    "td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;"
    "vertical-align:top}th{background:#f2f2f2}"
    ".ok{color:#17702a}.fail{color:#b00020}.warn{color:#a15c00}"
    ".mono{font-family:monospace}.small{color:#666;font-size:.85em}";

/* The expiry timeline: one bar per day with certificates expiring that
 * day, coloured by urgency, with today and the 7 and 30 day marks. */
static void
timeline(FILE *f, struct acme_db *db, long long now)
{
	const int left = 50, top = 20, w = 10 * TIMELINE_DAYS, h = 150;
	long long counts[TIMELINE_DAYS] = {0}, max = 0, total = 0;
	json_t *rows, *r;
	size_t i;

	rows = acme_db_all(db,
	    "SELECT (not_after - ?) / 86400 AS d, count(*) AS n FROM "
	    "certificates WHERE not_after > ? AND not_after <= ? AND status = "
	    "'valid' GROUP BY d",
	    "iii", now, now, now + TIMELINE_DAYS * 86400LL);
	json_array_foreach(rows, i, r) {
		long long d = jint(r, "d"), n = jint(r, "n");

		if (d >= 0 && d < TIMELINE_DAYS) {
			counts[d] += n;
			total += n;
			if (counts[d] > max)
				max = counts[d];
		}
	}
	json_decref(rows);
	fprintf(f,
	    "<p>%lld valid certificate%s expire%s in the next %d days.</p>\n",
	    total, total == 1 ? "" : "s", total == 1 ? "s" : "", TIMELINE_DAYS);
	fprintf(f,
	    "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
	    "height=\"%d\" role=\"img\" aria-label=\"certificates by expiry "
	    "day\">\n",
	    left + w + 20, top + h + 40);
	fprintf(f,
	    "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
	    "fill=\"#fafafa\" stroke=\"#bbb\"/>\n",
	    left, top, w, h);
	/* the urgent zones */
	fprintf(f,
	    "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
	    "fill=\"#fde8e8\"/>\n"
	    "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
	    "fill=\"#fff4e0\"/>\n",
	    left, top, 70, h, left + 70, top, 230, h);
	for (int d = 0; d < TIMELINE_DAYS; d++) {
		int bh;
		const char *col;

		if (counts[d] == 0)
			continue;
		bh = (int)((counts[d] * (h - 20)) / (max > 0 ? max : 1));
		if (bh < 3)
			bh = 3;
		col = d < 7 ? "#c62828" : d < 30 ? "#ef6c00" : "#2e7d32";
		fprintf(f,
		    "<rect x=\"%d\" y=\"%d\" width=\"8\" height=\"%d\" "
		    "fill=\"%s\"><title>day %d: %lld</title></rect>\n",
		    left + d * 10 + 1, top + h - bh, bh, col, d, counts[d]);
		if (bh + 14 < h)
			fprintf(f,
			    "<text x=\"%d\" y=\"%d\" font-size=\"9\" "
			    "text-anchor=\"middle\">%lld</text>\n",
			    left + d * 10 + 5, top + h - bh - 3, counts[d]);
	}
	{
		static const struct {
			int day;
			const char *label, *col;
		} marks[] = {{0, "today", "#000"}, {7, "7 days", "#c62828"},
		    {30, "30 days", "#ef6c00"}};

		for (size_t m = 0; m < sizeof(marks) / sizeof(marks[0]); m++)
			fprintf(f,
			    "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
			    "stroke=\"%s\" stroke-width=\"2\" "
			    "stroke-dasharray=\"4 3\"/>\n"
			    "<text x=\"%d\" y=\"%d\" font-size=\"11\" "
			    "fill=\"%s\">%s</text>\n",
			    left + marks[m].day * 10, top - 4,
			    left + marks[m].day * 10, top + h, marks[m].col,
			    left + marks[m].day * 10 + 3, top + 10,
			    marks[m].col, marks[m].label);
	}
	for (int d = 0; d <= TIMELINE_DAYS; d += 10)
		fprintf(f,
		    "<text x=\"%d\" y=\"%d\" font-size=\"10\" "
		    "text-anchor=\"middle\">+%dd</text>\n",
		    left + d * 10, top + h + 14, d);
	fprintf(f,
	    "<text x=\"%d\" y=\"%d\" font-size=\"11\">days from now "
	    "(bar: certificates expiring that day, highest %lld)</text>\n",
	    left, top + h + 32, max);
	fputs("</svg>\n", f);
}

static void
expiring_table(FILE *f, struct acme_db *db, long long now)
{
	json_t *rows = acme_db_all(db,
	    "SELECT serial, names, not_after, connector, profile FROM "
	    "certificates WHERE not_after > ? AND status = 'valid' ORDER BY "
	    "not_after LIMIT ?",
	    "ii", now, (long long)LIST_MAX);
	json_t *r;
	size_t i;

	fputs("<table><tr><th>expires</th><th>serial</th><th>names</th>"
	      "<th>connector</th><th>profile</th></tr>\n",
	    f);
	json_array_foreach(rows, i, r) {
		long long na = jint(r, "not_after");

		fprintf(f, "<tr><td class=\"%s\">",
		    na - now < 7 * 86400        ? "fail"
		        : na - now < 30 * 86400 ? "warn"
		                                : "ok");
		utc(f, na);
		fputs("</td><td class=\"mono\">", f);
		esc(f, jstr(r, "serial"));
		fputs("</td><td>", f);
		esc(f, jstr(r, "names"));
		fputs("</td><td>", f);
		esc(f, jstr(r, "connector"));
		fputs("</td><td>", f);
		esc(f, jstr(r, "profile"));
		fputs("</td></tr>\n", f);
	}
	if (json_array_size(rows) == 0)
		fputs("<tr><td colspan=\"5\">no valid certificate</td></tr>\n",
		    f);
	fputs("</table>\n", f);
	json_decref(rows);
}

static void
dcv_tables(FILE *f, struct acme_db *db, long long now)
{
	json_t *rows, *r;
	size_t i;

	rows = acme_db_all(db,
	    "SELECT connector, name, validated, expires, checked FROM "
	    "scm_domains ORDER BY expires LIMIT ?",
	    "i", (long long)LIST_MAX * 4);
	fputs("<h3>SCM domains (soonest expiry first)</h3>\n<table><tr>"
	      "<th>domain</th><th>connector</th><th>DCV</th>"
	      "<th>expires</th><th>checked</th></tr>\n",
	    f);
	json_array_foreach(rows, i, r) {
		int valid =
		    jint(r, "validated") == 1 && jint(r, "expires") > now;

		fputs("<tr><td>", f);
		esc(f, jstr(r, "name"));
		fputs("</td><td>", f);
		esc(f, jstr(r, "connector"));
		fprintf(f, "</td><td class=\"%s\">%s</td><td>",
		    valid ? "ok" : "fail",
		    valid                           ? "validated"
		        : jint(r, "validated") == 1 ? "expired"
		                                    : "not validated");
		utc(f, jint(r, "expires"));
		fputs("</td><td>", f);
		ago(f, now, jint(r, "checked"));
		fputs("</td></tr>\n", f);
	}
	if (json_array_size(rows) == 0)
		fputs(
		    "<tr><td colspan=\"5\">none read from SCM yet</td></tr>\n",
		    f);
	fputs("</table>\n", f);
	json_decref(rows);

	rows = acme_db_all(db,
	    "SELECT domain, connector, method, state, reason, expires, "
	    "updated FROM dcv ORDER BY id DESC LIMIT ?",
	    "i", (long long)LIST_MAX);
	fputs("<h3>Recent DCV runs</h3>\n<table><tr><th>domain</th>"
	      "<th>connector</th><th>method</th><th>state</th>"
	      "<th>validation expires</th><th>updated</th><th>reason</th>"
	      "</tr>\n",
	    f);
	json_array_foreach(rows, i, r) {
		const char *st = jstr(r, "state");

		fputs("<tr><td>", f);
		esc(f, jstr(r, "domain"));
		fputs("</td><td>", f);
		esc(f, jstr(r, "connector"));
		fputs("</td><td>", f);
		esc(f, jstr(r, "method"));
		fprintf(f, "</td><td class=\"%s\">",
		    strcmp(st, "valid") == 0        ? "ok"
		        : strcmp(st, "failed") == 0 ? "fail"
		                                    : "warn");
		esc(f, st);
		fputs("</td><td>", f);
		utc(f, jint(r, "expires"));
		fputs("</td><td>", f);
		ago(f, now, jint(r, "updated"));
		fputs("</td><td>", f);
		esc(f, jstr(r, "reason"));
		fputs("</td></tr>\n", f);
	}
	if (json_array_size(rows) == 0)
		fputs("<tr><td colspan=\"7\">no DCV run</td></tr>\n", f);
	fputs("</table>\n", f);
	json_decref(rows);
}

static void
conn_table(FILE *f, const char *title, const struct mx_conn_health *h, size_t n,
    long long now)
{
	fprintf(f,
	    "<h3>%s</h3>\n<table><tr><th>connector</th><th>last "
	    "reached</th><th>last success</th><th>ok</th><th>failed</th>"
	    "<th>last error</th></tr>\n",
	    title);
	for (size_t i = 0; i < n; i++) {
		fputs("<tr><td>", f);
		esc(f, h[i].name);
		fputs("</td><td>", f);
		ago(f, now, h[i].last_reached);
		fputs("</td><td>", f);
		ago(f, now, h[i].last_success);
		fprintf(f, "</td><td>%llu</td><td class=\"%s\">%llu</td><td>",
		    h[i].ok, h[i].failed > 0 ? "warn" : "ok", h[i].failed);
		if (h[i].last_error[0] != '\0') {
			esc(f, h[i].last_error);
			fputs(" <span class=\"small\">(", f);
			ago(f, now, h[i].last_error_at);
			fputs(")</span>", f);
		}
		fputs("</td></tr>\n", f);
	}
	if (n == 0)
		fputs("<tr><td colspan=\"6\">none configured</td></tr>\n", f);
	fputs("</table>\n", f);
}

/* The "detail" of a stored problem document, else the text itself. */
static void
problem_text(FILE *f, const char *s)
{
	json_t *p = json_loads(s, 0, NULL);
	const char *d = json_string_value(json_object_get(p, "detail"));

	esc(f, d != NULL ? d : s);
	json_decref(p);
}

static void
failures(FILE *f, struct acme_db *db, long long now)
{
	json_t *rows, *r;
	size_t i;

	/* orders_invalid is an index on updated for invalid orders */
	rows = acme_db_all(db,
	    "SELECT oid, identifiers, error, updated FROM orders WHERE "
	    "status = 'invalid' ORDER BY updated DESC LIMIT ?",
	    "i", (long long)LIST_MAX);
	fputs("<h3>Invalid orders (newest first)</h3>\n<table><tr>"
	      "<th>order</th><th>identifiers</th><th>updated</th>"
	      "<th>error</th></tr>\n",
	    f);
	json_array_foreach(rows, i, r) {
		json_t *ids = json_loads(jstr(r, "identifiers"), 0, NULL), *id;
		size_t k;

		fputs("<tr><td class=\"mono\">", f);
		esc(f, jstr(r, "oid"));
		fputs("</td><td>", f);
		json_array_foreach(ids, k, id) {
			if (k > 0)
				fputs(", ", f);
			esc(f, json_string_value(json_object_get(id, "value")));
		}
		json_decref(ids);
		fputs("</td><td>", f);
		ago(f, now, jint(r, "updated"));
		fputs("</td><td>", f);
		problem_text(f, jstr(r, "error"));
		fputs("</td></tr>\n", f);
	}
	if (json_array_size(rows) == 0)
		fputs("<tr><td colspan=\"4\">none</td></tr>\n", f);
	fputs("</table>\n", f);
	json_decref(rows);

	/* queued jobs with an error (retrying) and failed ones: both are
	 * ranges of jobs_due (state, next_run) */
	rows = acme_db_all(db,
	    "SELECT * FROM (SELECT kind, ref, state, attempts, last_error, "
	    "updated FROM jobs WHERE state = 'queued' AND last_error IS NOT "
	    "NULL UNION ALL SELECT kind, ref, state, attempts, last_error, "
	    "updated FROM jobs WHERE state = 'failed') ORDER BY updated DESC "
	    "LIMIT ?",
	    "i", (long long)LIST_MAX);
	fputs("<h3>Jobs with errors (newest first)</h3>\n<table><tr>"
	      "<th>kind</th><th>ref</th><th>state</th><th>attempts</th>"
	      "<th>updated</th><th>last error</th></tr>\n",
	    f);
	json_array_foreach(rows, i, r) {
		fputs("<tr><td>", f);
		esc(f, jstr(r, "kind"));
		fprintf(f, "</td><td>%lld</td><td class=\"%s\">",
		    jint(r, "ref"),
		    strcmp(jstr(r, "state"), "failed") == 0 ? "fail" : "warn");
		esc(f, jstr(r, "state"));
		fprintf(f, "</td><td>%lld</td><td>", jint(r, "attempts"));
		ago(f, now, jint(r, "updated"));
		fputs("</td><td>", f);
		esc(f, jstr(r, "last_error"));
		fputs("</td></tr>\n", f);
	}
	if (json_array_size(rows) == 0)
		fputs("<tr><td colspan=\"6\">none</td></tr>\n", f);
	fputs("</table>\n", f);
	json_decref(rows);
}

int
px_status_page(struct px_admin *a, char **out, size_t *len)
{
	struct acme_db *db = px_admin_db(a);
	struct mx_conn_health h[MX_CONN_MAX];
	long long now = (long long)time(NULL);
	char *text = NULL, *ready = NULL;
	size_t tlen = 0, rlen = 0;
	FILE *f = open_memstream(&text, &tlen), *rf;
	int ok;
	size_t n;

	if (f == NULL)
		return -1;
	fprintf(f,
	    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta "
	    "charset=\"utf-8\"><title>acmebridge status</title><style>%s"
	    "</style></head><body>\n<h1>acmebridge %s</h1>\n<p "
	    "class=\"small\">",
	    STYLE, ACMEBRIDGE_VERSION);
	utc(f, now);
	fputs(" &middot; read-only view &middot; refresh the page to "
	      "update</p>\n",
	    f);

	rf = open_memstream(&ready, &rlen);
	ok = rf != NULL ? px_admin_ready(a, rf) : 0;
	if (rf != NULL)
		fclose(rf);
	fprintf(f, "<h2>Readiness: <span class=\"%s\">%s</span></h2>\n<ul>\n",
	    ok ? "ok" : "fail", ok ? "ready" : "NOT READY");
	for (char *line = ready, *nl; line != NULL && *line != '\0';
	     line = nl + 1) {
		nl = strchr(line, '\n');
		if (nl == NULL)
			break;
		*nl = '\0';
		fprintf(f, "<li class=\"%s\">",
		    strncmp(line, "ok ", 3) == 0 ? "ok" : "fail");
		esc(f, line);
		fputs("</li>\n", f);
	}
	fputs("</ul>\n", f);
	free(ready);

	fprintf(f, "<h2>Certificates by expiry</h2>\n");
	timeline(f, db, now);
	fputs("<h3>Next to expire</h3>\n", f);
	expiring_table(f, db, now);

	fputs("<h2>Connectors</h2>\n", f);
	n = mx_scm_health(h, MX_CONN_MAX);
	conn_table(f, "SCM", h, n, now);
	n = mx_dns_health(h, MX_CONN_MAX);
	conn_table(f, "DNS", h, n, now);

	fputs("<h2>Domain control validation</h2>\n", f);
	dcv_tables(f, db, now);

	fputs("<h2>Recent failures</h2>\n", f);
	failures(f, db, now);
	fputs("</body></html>\n", f);
	if (fclose(f) != 0) {
		free(text);
		return -1;
	}
	*out = text;
	*len = tlen;
	return 0;
}

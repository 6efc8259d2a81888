/* SPDX-License-Identifier: Apache-2.0 */
/* The store's lifecycle statements (acme/life.h): renewal links, the
 * inventory, RFC 9773 lookups, sync state. Slots from LIFE_SLOT0 on,
 * after acme/store_dcv.c's. */
#include "acme/life.h"
#include "acme/store_int.h"

#include <stdarg.h>

#include "acme/csr.h"

#define LIFE_SLOT0 192

enum lstmt {
	SL_ORDER_SET,
	SL_ORDER_CA_STATUS,
	SL_CERT,
	SL_CERT_BY_SERIAL,
	SL_CERT_BY_REF,
	SL_AKI_KNOWN,
	SL_REPLACEMENT,
	SL_RENEWAL_OF,
	SL_CERT_REPLACED,
	SL_CERT_SCM,
	SL_CERT_SCM_REVOKE,
	SL_INVENTORY,
	SL_ACCOUNT_PROFILES,
	SL_EAB_PROFILES,
	SL_SYNC_GET,
	SL_SYNC_PUT,
	SL_WAKE_COLLECT,
	SL_REF_KNOWN,
	SL_ORDER_APPROVED,
	SL_JOB_WAIT,
	SL_COUNT
};

#define CERT_COLS                                                              \
	"c.id, c.order_id, c.account_id, c.crt_id, c.serial, c.connector,"     \
	" c.ca_ref, ifnull(c.profile, ''), ifnull(c.aki, ''), c.status,"       \
	" c.not_before, c.not_after, ifnull(c.predecessor, 0),"                \
	" ifnull(c.replaced_by, 0), ifnull(c.scm_status, ''),"                 \
	" ifnull(c.scm_reason, ''), c.source, c.names, c.chain_pem,"           \
	" c.alt_chain_pem"
/* the inventory's status of a certificate at ?1 (now) */
#define INV_STATUS                                                             \
	"CASE WHEN c.status <> 'valid' THEN c.status"                          \
	" WHEN c.scm_status = 'Revoked' THEN 'revoked'"                        \
	" WHEN c.not_after <= ?1 THEN 'expired'"                               \
	" WHEN c.replaced_by IS NOT NULL OR c.scm_status = 'Replaced'"         \
	" THEN 'replaced' ELSE 'valid' END"

static const char *const sql[SL_COUNT] = {
    [SL_ORDER_SET] = "UPDATE orders SET profile = ?, replaces = ?,"
                     " predecessor = nullif(?, 0), name_set = ? WHERE id = ?",
    [SL_ORDER_CA_STATUS] = "UPDATE orders SET ca_status = ? WHERE id = ? AND"
                           " ca_status IS NOT ?",
    [SL_CERT] = "SELECT " CERT_COLS " FROM certificates c WHERE c.id = ?",
    [SL_CERT_BY_SERIAL] = "SELECT " CERT_COLS " FROM certificates c WHERE"
                          " c.serial = ? ORDER BY c.id DESC",
    [SL_CERT_BY_REF] = "SELECT " CERT_COLS " FROM certificates c WHERE"
                       " c.connector = ? AND c.ca_ref = ? ORDER BY c.id"
                       " DESC LIMIT 1",
    [SL_AKI_KNOWN] = "SELECT 1 FROM certificates WHERE aki = ? LIMIT 1",
    [SL_REPLACEMENT] = "SELECT oid FROM orders WHERE predecessor = ? AND"
                       " replaces IS NOT NULL AND status <> 'invalid' AND"
                       " (status IN ('valid', 'processing') OR expires > ?)"
                       " ORDER BY id LIMIT 1",
    [SL_RENEWAL_OF] = "SELECT id FROM certificates WHERE account_id = ? AND"
                      " names = ? AND status = 'valid' AND replaced_by IS"
                      " NULL AND not_after > ? ORDER BY id DESC LIMIT 1",
    [SL_CERT_REPLACED] = "UPDATE certificates SET replaced_by = ? WHERE id ="
                         " ? AND replaced_by IS NULL AND id <> ?",
    [SL_CERT_SCM] = "UPDATE certificates SET scm_status = ?, scm_reason ="
                    " ?, scm_checked = ? WHERE id = ?",
    [SL_CERT_SCM_REVOKE] = "UPDATE certificates SET status = 'revoked'"
                           " WHERE id = ? AND status = 'valid'",
    [SL_INVENTORY] =
        "SELECT " CERT_COLS ", " INV_STATUS ", a.kid, o.oid,"
        " ifnull(p.serial, ''), ifnull(s.serial, '') FROM certificates c"
        " JOIN accounts a ON a.id = c.account_id JOIN orders o ON o.id ="
        " c.order_id LEFT JOIN certificates p ON p.id = c.predecessor"
        " LEFT JOIN certificates s ON s.id = c.replaced_by WHERE"
        " (?2 IS NULL OR c.connector = ?2) AND (?3 IS NULL OR a.kid = ?3)"
        " AND (?4 IS NULL OR instr(', ' || c.names || ', ', ', ' || ?4 ||"
        " ', ') > 0) AND (?5 IS NULL OR " INV_STATUS " = ?5)"
        " AND (?6 IS NULL OR c.profile = ?6) AND (?7 IS NULL OR c.serial ="
        " ?7) AND (?8 = 0 OR (c.not_after > ?1 AND c.not_after < ?8))"
        " ORDER BY c.id DESC LIMIT ?9",
    [SL_ACCOUNT_PROFILES] = "SELECT e.profiles FROM accounts a JOIN eab_keys"
                            " e ON e.kid = a.eab_kid WHERE a.id = ? AND"
                            " e.profiles IS NOT NULL",
    [SL_EAB_PROFILES] = "UPDATE eab_keys SET profiles = ? WHERE kid = ?",
    [SL_SYNC_GET] = "SELECT last_run, last_ok, rows, ifnull(last_error, '')"
                    " FROM sync_state WHERE connector = ?",
    [SL_SYNC_PUT] = "INSERT INTO sync_state(connector, last_run, last_ok,"
                    " last_error, rows) VALUES (?, ?, ?, nullif(?, ''), ?)"
                    " ON CONFLICT(connector) DO UPDATE SET last_run ="
                    " excluded.last_run, last_ok = excluded.last_ok,"
                    " last_error = excluded.last_error, rows ="
                    " excluded.rows",
    [SL_WAKE_COLLECT] = "UPDATE jobs SET next_run = ? WHERE kind = 'collect'"
                        " AND state = 'queued' AND next_run > ? AND ref IN"
                        " (SELECT id FROM orders WHERE connector = ? AND"
                        " ca_ref = ? AND status = 'processing')",
    [SL_REF_KNOWN] = "SELECT 1 FROM orders WHERE connector = ? AND ca_ref = ?"
                     " LIMIT 1",
    [SL_ORDER_APPROVED] = "UPDATE orders SET ca_status = ? WHERE id = ? AND"
                          " ca_status = 'Requested'",
    [SL_JOB_WAIT] = "UPDATE jobs SET next_run = ?, last_error = ?, updated = ?"
                    " WHERE id = ? AND state = 'queued'",
};
_Static_assert(LIFE_SLOT0 + SL_COUNT <= ACME_DB_SLOTS, "slots");

static struct acme_cur *
query(
    struct acme_db *db, struct acme_cur *c, enum lstmt st, const char *fmt, ...)
{
	struct acme_cur *r;
	va_list ap;

	va_start(ap, fmt);
	r = acme_db_vquery(db, c, LIFE_SLOT0 + (int)st, sql[st], fmt, ap);
	va_end(ap);
	return r;
}

void
acme_life_cert_clear(struct acme_life_cert *c)
{
	free(c->names);
	free(c->chain_pem);
	free(c->alt_chain_pem);
	memset(c, 0, sizeof(*c));
}

/* CERT_COLS at the cursor into out: 0, or -1 out of memory. */
static int
cert_row(const struct acme_cur *cur, struct acme_life_cert *out)
{
	const char *st;
	int oom = 0;

	out->id = acme_cur_int(cur, 0);
	out->order_id = acme_cur_int(cur, 1);
	out->account_id = acme_cur_int(cur, 2);
	COPY(out->crt_id, cur, 3);
	COPY(out->serial, cur, 4);
	COPY(out->connector, cur, 5);
	COPY(out->ca_ref, cur, 6);
	COPY(out->profile, cur, 7);
	COPY(out->aki, cur, 8);
	st = acme_cur_text(cur, 9);
	out->status = strcmp(st, "valid") == 0 ? ACME_CERT_VALID
	    : strcmp(st, "revoking") == 0      ? ACME_CERT_REVOKING
	                                       : ACME_CERT_REVOKED;
	out->not_before = acme_cur_int(cur, 10);
	out->not_after = acme_cur_int(cur, 11);
	out->predecessor = acme_cur_int(cur, 12);
	out->replaced_by = acme_cur_int(cur, 13);
	COPY(out->scm_status, cur, 14);
	COPY(out->scm_reason, cur, 15);
	COPY(out->source, cur, 16);
	out->names = dup_col(cur, 17, &oom);
	out->chain_pem = dup_col(cur, 18, &oom);
	out->alt_chain_pem = dup_col(cur, 19, &oom);
	if (oom) {
		acme_life_cert_clear(out);
		return -1;
	}
	return 0;
}

static enum acme_found
one_cert(struct acme_cur *cur, struct acme_life_cert *out)
{
	enum acme_found f;

	memset(out, 0, sizeof(*out));
	f = one_row(cur);
	if (f != ACME_FOUND)
		return f;
	f = cert_row(cur, out) == 0 ? ACME_FOUND : ACME_ERR;
	acme_cur_done(cur);
	return f;
}

int
acme_life_order_set(struct acme_db *db, long long order_id, const char *profile,
    const char *replaces, long long predecessor, const char *name_set)
{
	struct acme_cur c;

	return run(query(db, &c, SL_ORDER_SET, "ssisi", profile,
	    replaces != NULL && replaces[0] != '\0' ? replaces : NULL,
	    predecessor, name_set, order_id));
}

int
acme_life_order_ca_status(
    struct acme_db *db, long long order_id, const char *ca_status)
{
	struct acme_cur c;

	return run(query(
	    db, &c, SL_ORDER_CA_STATUS, "sis", ca_status, order_id, ca_status));
}

int
acme_life_order_approved(
    struct acme_db *db, long long order_id, const char *ca_status)
{
	struct acme_cur c;

	return run(query(db, &c, SL_ORDER_APPROVED, "si", ca_status, order_id));
}

int
acme_life_job_wait(struct acme_db *db, long long job_id, long long next_ms,
    const char *why, long long now)
{
	struct acme_cur c;

	return run(
	    query(db, &c, SL_JOB_WAIT, "isii", next_ms, why, now, job_id));
}

enum acme_found
acme_life_cert(struct acme_db *db, long long id, struct acme_life_cert *out)
{
	struct acme_cur c;

	return one_cert(query(db, &c, SL_CERT, "i", id), out);
}

/* The issuer key id of a stored certificate: the column, or (rows from
 * before it existed) read from the leaf. */
static void
cert_aki(struct acme_life_cert *c)
{
	struct acme_cert_info info;
	struct acme_problem p = {0};

	if (c->aki[0] != '\0' || c->chain_pem == NULL)
		return;
	if (acme_cert_info_pem(c->chain_pem, &info, &p) == 0)
		snprintf(c->aki, sizeof(c->aki), "%s", info.aki_b64url);
	acme_problem_clear(&p);
}

enum acme_found
acme_life_cert_by_serial(struct acme_db *db, const char *serial,
    const char *aki, struct acme_life_cert *out)
{
	struct acme_cur c;
	int rc;

	memset(out, 0, sizeof(*out));
	if (query(db, &c, SL_CERT_BY_SERIAL, "s", serial) == NULL)
		return ACME_ERR;
	/* serials are unique per issuer, not across issuers */
	while ((rc = acme_cur_next(&c)) == 1) {
		if (cert_row(&c, out) != 0) {
			acme_cur_done(&c);
			return ACME_ERR;
		}
		cert_aki(out);
		if (aki == NULL || strcmp(out->aki, aki) == 0) {
			acme_cur_done(&c);
			return ACME_FOUND;
		}
		acme_life_cert_clear(out);
	}
	acme_cur_done(&c);
	return rc == 0 ? ACME_NONE : ACME_ERR;
}

enum acme_found
acme_life_cert_by_ref(struct acme_db *db, const char *connector,
    const char *ca_ref, struct acme_life_cert *out)
{
	struct acme_cur c;

	return one_cert(
	    query(db, &c, SL_CERT_BY_REF, "ss", connector, ca_ref), out);
}

enum acme_found
acme_life_ref_known(
    struct acme_db *db, const char *connector, const char *ca_ref)
{
	struct acme_cur c;
	enum acme_found f =
	    one_row(query(db, &c, SL_REF_KNOWN, "ss", connector, ca_ref));

	if (f == ACME_FOUND)
		acme_cur_done(&c);
	return f;
}

enum acme_found
acme_life_aki_known(struct acme_db *db, const char *aki)
{
	struct acme_cur c;
	enum acme_found f = one_row(query(db, &c, SL_AKI_KNOWN, "s", aki));

	if (f == ACME_FOUND)
		acme_cur_done(&c);
	return f;
}

enum acme_found
acme_life_replacement(
    struct acme_db *db, long long cert_id, long long now, char *oid, size_t len)
{
	struct acme_cur c;
	enum acme_found f =
	    one_row(query(db, &c, SL_REPLACEMENT, "ii", cert_id, now));

	if (f == ACME_FOUND) {
		snprintf(oid, len, "%s", acme_cur_text(&c, 0));
		acme_cur_done(&c);
	}
	return f;
}

long long
acme_life_renewal_of(struct acme_db *db, long long account_id,
    const char *name_set, long long now)
{
	struct acme_cur c;
	enum acme_found f = one_row(
	    query(db, &c, SL_RENEWAL_OF, "isi", account_id, name_set, now));
	long long id;

	if (f != ACME_FOUND)
		return f == ACME_NONE ? 0 : -1;
	id = acme_cur_int(&c, 0);
	acme_cur_done(&c);
	return id;
}

int
acme_life_cert_replaced(
    struct acme_db *db, long long cert_id, long long successor)
{
	struct acme_cur c;

	return run(query(
	    db, &c, SL_CERT_REPLACED, "iii", successor, cert_id, successor));
}

int
acme_life_cert_scm(struct acme_db *db, long long cert_id,
    const char *scm_status, const char *reason, long long now)
{
	struct acme_cur c;
	int n = run(query(db, &c, SL_CERT_SCM, "ssii", scm_status,
	    reason != NULL && reason[0] != '\0' ? reason : NULL, now, cert_id));

	if (n < 0 || strcmp(scm_status, "Revoked") != 0)
		return n;
	return run(query(db, &c, SL_CERT_SCM_REVOKE, "i", cert_id)) < 0 ? -1
	                                                                : n;
}

int
acme_life_inventory(struct acme_db *db, const struct acme_inv_filter *f,
    void (*cb)(const struct acme_inv_row *row, void *arg), void *arg)
{
	struct acme_cur c;
	struct acme_life_cert lc;
	int rc, n = 0;

	if (query(db, &c, SL_INVENTORY, "issssssii", f->now, f->connector,
	        f->account, f->name, f->status, f->profile, f->serial,
	        f->expiring_before,
	        (long long)(f->limit > 0 ? f->limit : -1)) == NULL)
		return -1;
	while ((rc = acme_cur_next(&c)) == 1) {
		struct acme_inv_row row;

		memset(&lc, 0, sizeof(lc));
		if (cert_row(&c, &lc) != 0) {
			rc = -1;
			break;
		}
		cert_aki(&lc);
		row.c = &lc;
		row.status = acme_cur_text(&c, 20);
		row.account = acme_cur_text(&c, 21);
		row.order = acme_cur_text(&c, 22);
		row.predecessor_serial = acme_cur_text(&c, 23);
		row.successor_serial = acme_cur_text(&c, 24);
		cb(&row, arg);
		acme_life_cert_clear(&lc);
		n++;
	}
	acme_cur_done(&c);
	return rc < 0 ? -1 : n;
}

enum acme_found
acme_life_account_profiles(
    struct acme_db *db, long long account_id, char *buf, size_t len)
{
	struct acme_cur c;
	enum acme_found f =
	    one_row(query(db, &c, SL_ACCOUNT_PROFILES, "i", account_id));

	if (f == ACME_FOUND) {
		snprintf(buf, len, "%s", acme_cur_text(&c, 0));
		acme_cur_done(&c);
	}
	return f;
}

int
acme_life_eab_set_profiles(
    struct acme_db *db, const char *kid, const char *profiles_json)
{
	struct acme_cur c;

	return run(query(db, &c, SL_EAB_PROFILES, "ss", profiles_json, kid));
}

enum acme_found
acme_life_sync_get(
    struct acme_db *db, const char *connector, struct acme_sync_state *out)
{
	struct acme_cur c;
	enum acme_found f;

	memset(out, 0, sizeof(*out));
	f = one_row(query(db, &c, SL_SYNC_GET, "s", connector));
	if (f != ACME_FOUND)
		return f;
	out->last_run = acme_cur_int(&c, 0);
	out->last_ok = acme_cur_int(&c, 1);
	out->rows = acme_cur_int(&c, 2);
	COPY(out->last_error, &c, 3);
	acme_cur_done(&c);
	return ACME_FOUND;
}

int
acme_life_sync_put(
    struct acme_db *db, const char *connector, const struct acme_sync_state *s)
{
	struct acme_cur c;

	return run(query(db, &c, SL_SYNC_PUT, "siisi", connector, s->last_run,
	    s->last_ok, s->last_error, s->rows));
}

int
acme_life_wake_collect(struct acme_db *db, const char *connector,
    const char *ca_ref, long long now_ms)
{
	struct acme_cur c;

	return run(query(db, &c, SL_WAKE_COLLECT, "iiss", now_ms, now_ms,
	    connector, ca_ref));
}
